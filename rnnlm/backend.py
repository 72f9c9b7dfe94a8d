"""Choosing and loading backends and file formats, from what `rnnlm.backends.registry`
declares. Names no framework: every backend, its extra and its modules come from there.

The backend interface itself is written down in `rnnlm.backends.common.base` (an inference part,
and a training part on top of it). Module names come from the registry's naming convention
(`BackendSpec.module(role)`); a backend is handed the run's thread count when it loads.
"""

import importlib
import os
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

from rnnlm import threads as thread_counts
from rnnlm.backends import registry
from rnnlm.backends.registry import BackendSpec, FormatSpec
from rnnlm.errors import UsageError
from rnnlm.install import install_hint, python_fix, unsupported_python
from rnnlm.library_errors import library_reason

ENV_VAR = "RNNLM_BACKEND"
# a count, a count per backend (its spec: each backend's default has its own split_factor),
# or None: `rnnlm.threads.choose`'s default for the backend
Threads = Union[None, int, Callable[[BackendSpec], int]]
SPECS: Dict[str, BackendSpec] = {s.name: s for s in registry.BACKENDS}
FORMATS: Dict[str, FormatSpec] = {f.name: f for f in registry.FORMATS}
BACKENDS: Tuple[str, ...] = tuple(s.name for s in registry.BACKENDS if s.trains)  # in default order
INFERENCE_BACKENDS: Tuple[str, ...] = tuple(s.name for s in registry.BACKENDS if not s.trains)
IMPORT_FORMATS: Tuple[str, ...] = tuple(f.name for f in registry.FORMATS if f.imports)
EXPORT_FORMATS: Tuple[str, ...] = tuple(f.name for f in registry.FORMATS)


def build_model(backend: Any, mcfg: Any, device: Any, dtype: str, weights: Dict[str, Any]) -> Any:
    """A backend's model of config `mcfg` on `device`, holding `weights` (canonical layout)."""
    model = backend.RNNModel(mcfg, device, dtype)
    backend.set_weights(model, weights)
    return model


def trains(backend: Any) -> bool:
    """Whether a loaded backend module trains (else it runs predict and eval only)."""
    return SPECS[backend.NAME].trains


def check_name(name: str, training: bool = False) -> str:
    """`name` if it names a backend (one that trains, with `training`); else a UsageError."""
    if name not in SPECS:
        raise UsageError(f"unknown backend '{name}' (choose from: {', '.join(SPECS)})")
    if training and not SPECS[name].trains:
        raise UsageError(f"{name} runs predict and eval only; train with --backend {' or '.join(BACKENDS)}")
    return name


def check_names(names: Sequence[str], training: bool = True) -> Tuple[str, ...]:
    """`names` as a tuple: at least one, each a backend (a training one, with `training`),
    none twice; else a UsageError. `--backends` of every command is checked here."""
    if not names:
        raise UsageError("--backends needs at least one backend name")
    for name in names:
        check_name(name, training)
    if len(set(names)) != len(names):
        raise UsageError(f"--backends names a backend twice: {','.join(names)}")
    return tuple(names)


def parse_names(text: str, training: bool = True) -> Tuple[str, ...]:
    """'a,b,c' -> ('a', 'b', 'c'), checked by `check_names`."""
    return check_names([n.strip() for n in text.split(",") if n.strip()], training)


def _import(
    module: str,
    needs: Tuple[str, ...],
    extra: str,
    what: str,
    spec: Optional[BackendSpec] = None,
    threads: Optional[int] = None,
) -> ModuleType:
    """Import `rnnlm.backends.<module>`, its backend's runtime loaded first with `threads`
    (when `spec` has one); a missing or broken framework is a UsageError."""
    try:
        if spec is not None and spec.runtime is not None:
            importlib.import_module(f"rnnlm.backends.{spec.runtime}").load(threads)
        return importlib.import_module(f"rnnlm.backends.{module}")
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in needs:
            raise
        why_not = spec and unsupported_python(spec)
        if why_not:
            raise UsageError(
                f"{what} is not available on this Python: {why_not}; use it from another "
                f"Python ({python_fix(spec)}) or choose another backend"
            ) from None
        raise UsageError(f"{what} needs {missing}, which is not installed: {install_hint(extra)}") from None
    except (ImportError, AttributeError, OSError) as exc:
        raise UsageError(
            f"{what} could not import {needs[0]} ({library_reason(exc)}); reinstall with: {install_hint(extra)}"
        ) from None
    except ValueError as exc:  # a framework refusing one of its variables (JAX_ENABLE_X64=garbage)
        raise UsageError(
            f"{what}: {needs[0]} refused to start ({library_reason(exc)}); correct or unset "
            "the environment variable it names"
        ) from None


def load_backend(name: str, threads: Threads = None) -> ModuleType:
    """The implementation module of backend `name` (this imports its framework), loaded to
    compute with `threads` threads (None: the default of `rnnlm.threads.choose`). A framework
    that fixes its count when it loads keeps the first count it was given: `num_threads()`
    says what it computes with."""
    return _load(SPECS[check_name(name)], threads)


def default_count(spec: BackendSpec, work: int = thread_counts.SMALL_STEP) -> int:
    """The thread count backend `spec` takes for steps of `work` multiply-adds (default: about
    the book's model) when nothing asks for one (rnnlm.threads.choose)."""
    return thread_counts.choose(work=work, split_factor=spec.split_factor).count


def _load(spec: BackendSpec, threads: Threads) -> ModuleType:
    count = default_count(spec) if threads is None else threads(spec) if callable(threads) else threads
    return _import(spec.impl, spec.needs, spec.extra, f"backend '{spec.name}'", spec, count)


def load_engine(name: str) -> ModuleType:
    """The engine module of training backend `name` (imports no framework)."""
    spec = SPECS[check_name(name, training=True)]
    assert spec.engine is not None, f"registry: training backend {name} declares no engine role"
    return importlib.import_module(f"rnnlm.backends.{spec.engine}")


def study_models_module(spec: BackendSpec) -> ModuleType:
    """The module with `rnnlm study`'s own models for backend `spec` (imports its framework)."""
    if spec.study_models is None:
        raise UsageError(
            f"backend '{spec.name}' has no study models yet (rnnlm study runs on: "
            f"{', '.join(n for n, s in SPECS.items() if s.study_models)})"
        )
    return _import(spec.study_models, spec.needs, spec.extra, f"backend '{spec.name}'", spec, default_count(spec))


def load_format(name: str) -> ModuleType:
    """The description module of file format `name` (imports no framework itself)."""
    return importlib.import_module(f"rnnlm.backends.{FORMATS[name].module}")


def format_call(name: str, function: str, *args: Any) -> Any:
    """`function(*args)` of format `name`'s module; a missing framework is a UsageError."""
    spec = FORMATS[name]
    try:
        return getattr(load_format(name), function)(*args)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in spec.needs:
            raise
        raise UsageError(f"{name} files need {missing}, which is not installed: {install_hint(spec.extra)}") from None


def requested_name(flag: Optional[str] = None, environ: Any = None, training: bool = False) -> Optional[str]:
    """--backend, else $RNNLM_BACKEND (empty = unset); None when neither names one."""
    environ = os.environ if environ is None else environ
    name = flag or environ.get(ENV_VAR) or None
    return None if name is None else check_name(name, training)


def select_backend(
    flag: Optional[str] = None, environ: Any = None, training: bool = False, threads: Threads = None
) -> ModuleType:
    """--backend, else $RNNLM_BACKEND (empty = unset), else the first training backend that
    imports, loaded with `threads` (see `load_backend`). With `training`, an inference-only
    backend is refused before anything is imported."""
    return load_selected(requested_name(flag, environ, training), training, threads)


def load_selected(name: Optional[str], training: bool = False, threads: Threads = None) -> ModuleType:
    """Backend `name` as `requested_name` returned it (checked there, once), or with None the
    first training backend that imports."""
    if name is not None:
        return _load(SPECS[name], threads)
    for candidate in BACKENDS:
        try:
            return _load(SPECS[candidate], threads)
        except UsageError:
            continue
    hints = " or ".join(install_hint(SPECS[n].extra) for n in BACKENDS)
    others = (
        ""
        if training
        else "".join(
            f" (predict and eval: or {install_hint(SPECS[n].extra)} and --backend {n})" for n in INFERENCE_BACKENDS
        )
    )
    raise UsageError(f"no backend is installed: {hints}{others}")


def installed_training_backends() -> Tuple[str, ...]:
    """The training backends whose framework imports here, in default order."""
    found = []
    for name in BACKENDS:
        try:
            load_backend(name)
        except UsageError:
            continue
        found.append(name)
    return tuple(found)
