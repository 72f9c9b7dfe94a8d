"""`rnnlm doctor`: what a bug report needs, and for every problem the command that fixes it.

Python, NumPy, how rnnlm was installed, and each backend: does it import, its framework's
version, the devices and threads it sees, the BLAS/oneDNN it was built with where the
framework says (each backend's `environment()`). Exit 0 when at least one backend
that trains works, else 2. The frameworks are imported only through `load_backend`, as any
command imports them; their details are read from the modules it loaded.
"""

import importlib
import importlib.util
import json
import os
import platform
import sys
from importlib import metadata

from typing import Any

import numpy as np

import rnnlm
from rnnlm import __version__
from rnnlm.backend import BACKENDS, INFERENCE_BACKENDS, SPECS, load_backend
from rnnlm.errors import UsageError
from rnnlm.install import DISTRIBUTION, _source, install_hint, python_fix, unsupported_python


def add_parser(sub):
    p = sub.add_parser(
        "doctor",
        help="what this installation has: Python, NumPy, each backend, and the command that fixes each problem",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(run=run)
    return p


def run(args):
    report = collect()
    print(json.dumps(report) if args.json else render(report))
    return 0 if any(b["ok"] for b in report["backends"] if b["trains"]) else 2


# ---- what is installed -------------------------------------------------------------------


def numpy_blas():
    """The BLAS NumPy was built with (NumPy >= 1.25 records it), or None."""
    config: Any = getattr(getattr(np, "__config__", None), "CONFIG", None)
    try:
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):
        return None


def installation():
    """Where this rnnlm came from, and where it is imported from."""
    kind, folder = _source()
    info = {
        "version": __version__,
        "kind": kind,
        "folder": folder,
        "imported_from": os.path.dirname(os.path.abspath(rnnlm.__file__)),
        "problem": None,
        "fix": None,
    }
    try:
        info["distribution"] = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        info["distribution"] = None
    try:
        importlib.import_module("rnnlm.backends")  # installed through package_dir; a bare checkout lacks it
    except ImportError:
        info["problem"] = "rnnlm.backends does not import: rnnlm runs from a checkout that was never installed"
        info["fix"] = "pip install -e ."
    return info


def _installed(distribution):
    try:
        return bool(metadata.version(distribution))
    except metadata.PackageNotFoundError:
        return False


def fix_for(name, numpy_version=np.__version__):
    """The one command that makes backend `name` importable here."""
    spec = SPECS[name]
    if unsupported_python(spec):
        return python_fix(spec)
    framework = spec.needs[0]
    if spec.numpy_below and int(numpy_version.split(".")[0]) >= spec.numpy_below and _installed(framework):
        return (
            f"pip install 'numpy<{spec.numpy_below}'  ({framework}, installed, does not run on "
            f"NumPy {spec.numpy_below})"
        )
    return install_hint(spec.extra)


def _missing(module):
    try:
        return importlib.util.find_spec(module) is None
    except ValueError:  # in sys.modules as None: made unimportable on purpose
        return True


def _problem(name, exc):
    """What is wrong with backend `name`, without the fix (said apart)."""
    why_not = unsupported_python(SPECS[name])
    if why_not:
        return f"not available on Python {platform.python_version()}: {why_not}"
    framework = SPECS[name].needs[0]
    if _missing(framework):
        return f"{framework} is not installed"
    return str(exc)


def backend_report(name):
    entry = {"name": name, "trains": name in BACKENDS, "ok": False}
    try:
        module = load_backend(name)
    except UsageError as exc:
        entry.update(problem=_problem(name, exc), fix=fix_for(name))
        return entry
    except Exception as exc:  # a framework that breaks on import is the very thing to report
        entry.update(problem=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", fix=fix_for(name))
        return entry
    try:  # a framework may import and still fail to start (JAX_PLATFORMS=cuda on a CPU machine)
        entry.update(version=module.framework_version(), devices=[module.device_name(d) for d in module.try_all_gpus()])
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else ""
        entry.update(
            problem=reason if isinstance(exc, UsageError) else f"{type(exc).__name__}: {reason}",
            fix="unset or correct the variable the problem names" if isinstance(exc, UsageError) else fix_for(name),
        )
        return entry
    entry["ok"] = True
    try:
        entry.update(module.environment())
    except Exception as exc:  # details are a bonus: never let them hide the backend
        entry["details_error"] = f"{type(exc).__name__}: {exc}"
    return entry


def collect():
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable, "platform": platform.platform()},
        "numpy": {"version": np.__version__, "blas": numpy_blas()},
        "rnnlm": installation(),
        "backends": [backend_report(name) for name in BACKENDS + INFERENCE_BACKENDS],
    }


# ---- the report --------------------------------------------------------------------------

_SHOWN = ("devices", "threads", "blas", "onednn", "cuda_build", "gpus", "features", "providers")


def render(report):
    py, npy, inst = report["python"], report["numpy"], report["rnnlm"]
    where = {
        "editable": f"editable install from {inst['folder']}",
        "clone": f"installed from {inst['folder']}",
        "index": f"installed from the package index as {DISTRIBUTION}",
    }[inst["kind"]]
    if inst["distribution"] is None:
        where = "not installed (run from a source tree)"
    lines = [
        f"python       {py['version']} ({py['executable']}; {py['platform']})",
        f"numpy        {npy['version']}" + (f" (BLAS: {npy['blas']})" if npy["blas"] else ""),
        f"rnnlm        {inst['version']}, {where}; imported from {inst['imported_from']}",
    ]
    problems = [("rnnlm", inst["problem"], inst["fix"])] if inst["problem"] else []
    for b in report["backends"]:
        role = "" if b["trains"] else " (predict and eval only)"
        if b["ok"]:
            shown = "; ".join(f"{key} {_text(b[key])}" for key in _SHOWN if b.get(key) not in (None, [], ""))
            lines.append(f"{b['name']:<12} ok {b['version']}{role}; {shown}")
        else:
            lines.append(f"{b['name']:<12} unavailable{role}")
            problems.append((b["name"], b["problem"], b["fix"]))
    if not any(b["ok"] for b in report["backends"] if b["trains"]):
        lines.append(f"no backend that trains works: rnnlm train needs {' or '.join(BACKENDS)}")
    lines.append(f"problems     {len(problems) or 'none'}")
    for name, problem, fix in problems:
        lines.append(f"  {name}: {problem}")
        lines.append(f"    fix: {fix}")
    return "\n".join(lines)


def _text(value):
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
