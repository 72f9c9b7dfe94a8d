"""Every backend and native file format rnnlm knows, declared in one place. Imports no
framework: the core reads these declarations to choose, check and load, and never names a
framework itself.

Adding a backend (the one recipe; `docs/ARCHITECTURE.md` walks through it):
1. its files in this folder, named `<name>_<role>.py` for each role in ROLES it has;
   `<name>_impl.py` (the interface of `common/base.py`) always;
2. one `BackendSpec` below listing those roles (and a `FormatSpec` when it brings a file
   format), and its line in `common/type_check.py`;
3. its extra in setup.cfg (environment markers where wheels are missing), and in `all`;
4. its line in the README's backend table.
Nothing in `rnnlm/` or `tests/` changes: the tests' backend fixtures are parametrized over
this registry, and `tests/test_architecture.py` checks every file against the convention.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

# The role of each module of a backend, as its file name's suffix says: `torch_engine.py`.
ROLES = {
    "impl": "the backend interface (common/base.py's Protocols); imports the framework",
    "runtime": "what the framework needs before and while it loads, and its process-wide switches",
    "engine": "how its processes form a worker group (imports no framework)",
    "kernel": "a custom recurrence (forward and backward) the impl computes with",
    "format": "its native file format's description: sniffing, naming scheme, the book's line",
    "native": "the native file codec: reads and writes the framework's files, bounded",
    "study_models": "`rnnlm study`'s from-scratch RNN and autoregressive models",
}


@dataclass(frozen=True)
class BackendSpec:
    name: str  # as --backend and $RNNLM_BACKEND spell it; its files' prefix
    extra: str  # the pip extra that installs it
    needs: Tuple[str, ...]  # top-level modules that must import
    trains: bool  # train, compare, launch, compress; else predict and eval only
    roles: Tuple[str, ...]  # its modules besides impl (keys of ROLES)
    native_format: Optional[str] = None  # the FormatSpec its framework reads and writes
    last_python: Optional[Tuple[int, int]] = None  # the newest Python its framework has wheels for
    why_not_newer: str = ""  # why not past it ({python} is filled in)
    numpy_below: Optional[int] = None  # the NumPy major version its framework no longer runs on
    # a step is split among threads from split_factor x rnnlm.threads.SMALL_STEP of work up.
    # Measured, the book's model (1.1x SMALL_STEP) is faster on one thread than on two idle
    # and beside a busy core with torch, MXNet and TensorFlow's fused steps, MXNet's 384
    # hidden (2.4x) even, its 512 (4.2x) faster on two
    # (docs/results/2026-12-03-onednn-and-one-thread.md)
    split_factor: int = 3

    def module(self, role: str) -> Optional[str]:
        """The module in rnnlm.backends that plays `role` for this backend, or None."""
        assert role in ROLES, f"unknown role {role!r}"
        return f"{self.name}_{role}" if role == "impl" or role in self.roles else None

    @property
    def impl(self) -> str:
        return f"{self.name}_impl"

    @property
    def engine(self) -> Optional[str]:
        return self.module("engine")

    @property
    def runtime(self) -> Optional[str]:
        return self.module("runtime")

    @property
    def study_models(self) -> Optional[str]:
        return self.module("study_models")


@dataclass(frozen=True)
class FormatSpec:
    name: str  # as import/export --format spell it
    backend: str  # the backend whose `<backend>_format` module describes it
    extra: str  # the pip extra its reader and writer need
    needs: Tuple[str, ...]  # top-level modules its reader and writer import
    imports: bool  # `rnnlm import` reads it
    checkpoint: bool = False  # usable as --checkpoint as it is (it carries config and vocabulary)

    @property
    def module(self) -> str:
        return f"{self.backend}_format"


# the order of training backends is the default's: the first one installed is used
BACKENDS: Tuple[BackendSpec, ...] = (
    BackendSpec(
        "torch",
        "torch",
        ("torch",),
        trains=True,
        native_format="torch",
        roles=("runtime", "engine", "kernel", "format", "native", "study_models"),
    ),
    BackendSpec(
        "mxnet",
        "mxnet",
        ("mxnet",),
        trains=True,
        native_format="mxnet",
        roles=("runtime", "engine", "format", "native", "study_models"),
        last_python=(3, 12),
        numpy_below=2,
        why_not_newer="MXNet 1.9.1, its last release, needs NumPy < 2, which has no wheel for Python {python}",
    ),
    BackendSpec("jax", "jax", ("jax", "jaxlib"), trains=True, roles=("runtime", "engine", "kernel", "study_models")),
    BackendSpec(
        "tensorflow",
        "tensorflow",
        ("tensorflow",),
        trains=True,
        native_format="tensorflow",
        roles=("runtime", "engine", "kernel", "format", "native", "study_models"),
    ),
    BackendSpec(
        "onnxruntime", "onnx", ("onnxruntime", "onnx"), trains=False, native_format="onnx", roles=("format", "native")
    ),
)

FORMATS: Tuple[FormatSpec, ...] = (
    FormatSpec("torch", "torch", "torch", ("torch",), imports=True),
    FormatSpec("mxnet", "mxnet", "mxnet", (), imports=True),  # read and written in NumPy
    FormatSpec("tensorflow", "tensorflow", "tensorflow", ("h5py",), imports=True),  # the book's .weights.h5
    FormatSpec("onnx", "onnxruntime", "onnx", ("onnx", "onnxruntime"), imports=False, checkpoint=True),
)
