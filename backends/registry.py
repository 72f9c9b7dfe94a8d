"""Every backend and native file format rnnlm knows, declared in one place. Imports no
framework: the core reads these declarations to choose, check and load, and never names a
framework itself.

A backend is an implementation module (`impl`, the only one that imports its framework),
the pip extra and top-level modules it needs, whether it trains, and for a training backend
the engine module with its worker-group hooks (imports no framework). A file format is a
framework-free description module (`module`: sniffing, naming scheme, the book's
constructor line, reading and writing through its framework's reader when needed).

Adding a backend: its files in this folder, one `BackendSpec` (and a `FormatSpec` when it
brings a file format) below, its extra in setup.cfg, a line in the README.
"""

from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class BackendSpec:
    name: str                    # as --backend and $RNNLM_BACKEND spell it
    impl: str                    # module in rnnlm.backends: the framework's side
    extra: str                   # the pip extra that installs it
    needs: Tuple[str, ...]       # top-level modules that must import
    trains: bool                 # train, compare, launch, compress; else predict and eval only
    engine: Optional[str] = None  # module with the worker-group hooks (training backends)
    native_format: Optional[str] = None  # the FormatSpec its framework reads and writes
    last_python: Optional[Tuple[int, int]] = None  # the newest Python its framework has wheels for
    why_not_newer: str = ""      # why not past it ({python} is filled in)
    numpy_below: Optional[int] = None  # the NumPy major version its framework no longer runs on
    study_models: Optional[str] = None  # module with `rnnlm study`'s from-scratch RNN and regressor


@dataclass(frozen=True)
class FormatSpec:
    name: str                    # as import/export --format spell it
    module: str                  # module in rnnlm.backends describing the format
    extra: str                   # the pip extra its reader and writer need
    needs: Tuple[str, ...]       # top-level modules its reader and writer import
    imports: bool                # `rnnlm import` reads it
    checkpoint: bool = False     # usable as --checkpoint as it is (it carries config and vocabulary)


# the order of training backends is the default's: the first one installed is used
BACKENDS: Tuple[BackendSpec, ...] = (
    BackendSpec("torch", "torch_impl", "torch", ("torch",), trains=True, engine="torch_engine",
                native_format="torch", study_models="torch_study_models"),
    BackendSpec("mxnet", "mxnet_impl", "mxnet", ("mxnet",), trains=True, engine="mxnet_engine",
                native_format="mxnet", study_models="mxnet_study_models", last_python=(3, 12), numpy_below=2,
                why_not_newer="MXNet 1.9.1, its last release, needs NumPy < 2, which has no wheel for "
                              "Python {python}"),
    BackendSpec("jax", "jax_impl", "jax", ("jax", "jaxlib"), trains=True, engine="jax_engine",
                study_models="jax_study_models"),
    BackendSpec("tensorflow", "tensorflow_impl", "tensorflow", ("tensorflow",), trains=True,
                engine="tensorflow_engine", native_format="tensorflow", study_models="tensorflow_study_models"),
    BackendSpec("onnxruntime", "onnxruntime_impl", "onnx", ("onnxruntime", "onnx"), trains=False,
                native_format="onnx"),
)

FORMATS: Tuple[FormatSpec, ...] = (
    FormatSpec("torch", "torch_format", "torch", ("torch",), imports=True),
    FormatSpec("mxnet", "mxnet_format", "mxnet", (), imports=True),  # read and written in NumPy
    FormatSpec("tensorflow", "tensorflow_format", "tensorflow", ("h5py",), imports=True),
    FormatSpec("onnx", "onnx_format", "onnx", ("onnx", "onnxruntime"), imports=False, checkpoint=True),
)
