"""The backend interface, written down, and the choice of backend.

A backend `NAME` is two modules in `rnnlm.backends`:
- `NAME_impl`, the only one that imports the framework: the names of `Backend` below;
- `NAME_engine`, which imports no framework: how its processes form a worker group
  (`group_requested`, `group_processes`, `restart_note`), for the launcher and the workers.
The inference-only backend `onnxruntime` has the same names (its training calls refuse)
and no engine.

The boundary is NumPy-shaped: the core hands in int64 token arrays of shape (batch, steps)
and weights as {canonical name: ndarray}; it gets back device scalars (to be summed, then
read once with `to_float`) or NumPy arrays. States and optimizers are opaque framework
objects the core only passes back; of a model it reads the attributes of `Model`.
"""

import importlib
import os
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

import numpy as np

from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError
from rnnlm.install import install_hint

BACKENDS = ("torch", "mxnet")              # train and compare; the default, in this order
INFERENCE_BACKENDS = ("onnxruntime",)      # predict and eval only, chosen by name
ENV_VAR = "RNNLM_BACKEND"
_NEEDS = {"torch": ("torch",), "mxnet": ("mxnet",), "onnxruntime": ("onnxruntime", "onnx")}
_EXTRAS = {"torch": "torch", "mxnet": "mxnet", "onnxruntime": "onnx"}
# file formats: the backends module that reads and writes each, its framework, its pip extra
_FORMATS = {"torch": ("torch_native", "torch", "torch"), "mxnet": ("mxnet_native", "mxnet", "mxnet"),
            "onnx": ("onnx_graph", "onnx", "onnx")}


class Model(Protocol):
    """What the core reads from a backend's model."""
    cfg: ModelConfig
    device: Any
    dtype_name: str            # "float32" | "float64"
    group: Optional[Any]       # the engine's handle on its worker group; None alone


class Backend(Protocol):
    @property
    def NAME(self) -> str: ...
    @property
    def RNNModel(self) -> Callable[[ModelConfig, Any, str], Model]: ...
    @property
    def TUNES_THREADS(self) -> bool: ...  # can set_num_threads change the count while training?

    def try_gpu(self, i: int = 0) -> Any: ...
    def try_all_gpus(self) -> List[Any]: ...
    def resolve_device(self, spec: str) -> Any: ...
    def device_name(self, device: Any) -> str: ...
    def begin_state(self, model: Any, batch_size: int) -> Any: ...
    def detach_state(self, state: Any) -> Any: ...
    def state_to_numpy(self, state: Any) -> List[np.ndarray]: ...
    def one_hot(self, indices: Any, depth: int, dtype: str = "float32") -> Any: ...
    def grad_clipping(self, model: Any, theta: float) -> Any: ...
    def make_optimizer(self, model: Any, lr: float, kind: str = "sgd") -> Any: ...
    def framework_version(self) -> str: ...
    def train_step(self, model: Any, optimizer: Any, state: Any, X: np.ndarray, Y: np.ndarray,
                   clip: float) -> Tuple[Any, Any]: ...
    def eval_step(self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray) -> Tuple[Any, Any]: ...
    def forward(self, model: Any, X: np.ndarray, state: Any) -> Tuple[np.ndarray, Any]: ...
    def greedy_continue(self, model: Any, state: Any, last: int, num_chars: int
                        ) -> Tuple[np.ndarray, Any]: ...
    def loss_and_grads(self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray
                       ) -> Tuple[float, Dict[str, np.ndarray]]: ...
    def to_float(self, x: Any) -> float: ...
    def set_num_threads(self, n: int) -> None: ...
    def synchronize(self) -> None: ...
    def group_requested(self, environ: Mapping[str, str]) -> bool: ...
    def restart_note(self, environ: Mapping[str, str]) -> Optional[str]: ...
    def init_distributed(self, model: Any) -> Tuple[int, int]: ...
    def all_reduce_sum(self, model: Any, values: List[float]) -> List[float]: ...
    def finish_distributed(self, model: Any) -> None: ...
    def get_weights(self, model: Any) -> Dict[str, np.ndarray]: ...
    def set_weights(self, model: Any, weights: Dict[str, np.ndarray]) -> None: ...


def build_model(backend, mcfg, device, dtype, weights):
    """A backend's model of config `mcfg` on `device`, holding `weights` (canonical layout)."""
    model = backend.RNNModel(mcfg, device, dtype)
    backend.set_weights(model, weights)
    return model


def check_name(name, training=False):
    """`name` if it names a backend (one that trains, with `training`); else a UsageError."""
    if name in INFERENCE_BACKENDS and training:
        raise UsageError(f"{name} runs predict and eval only; train with --backend {' or '.join(BACKENDS)}")
    if name not in BACKENDS + INFERENCE_BACKENDS:
        raise UsageError(f"unknown backend '{name}' (choose from: {', '.join(BACKENDS + INFERENCE_BACKENDS)})")
    return name


def load_engine(name) -> ModuleType:
    """The engine module of training backend `name` (imports no framework)."""
    return importlib.import_module(f"rnnlm.backends.{check_name(name, training=True)}_engine")


def load_backend(name):
    """Import the backend module `name`; a missing framework is a UsageError naming the extra."""
    check_name(name)
    try:
        return importlib.import_module(f"rnnlm.backends.{name}_impl")
    except ModuleNotFoundError as exc:
        missing = (exc.name or name).split(".")[0]
        if missing not in _NEEDS[name]:
            raise
        raise UsageError(f"backend '{name}' needs {missing}, which is not installed: "
                         f"{install_hint(_EXTRAS[name])}") from None
    except (ImportError, AttributeError, OSError) as exc:
        # e.g. mxnet 1.9.1 under numpy>=1.24 fails on np.bool
        from rnnlm.library_errors import library_reason
        raise UsageError(f"backend '{name}' could not import {name} ({library_reason(exc)}); "
                         f"reinstall with: {install_hint(_EXTRAS[name])}") from None


def native_module(fmt):
    """The module of `rnnlm.backends` that reads and writes file format `fmt` (torch,
    mxnet, onnx); a missing framework is a UsageError naming the extra."""
    module, framework, extra = _FORMATS[fmt]
    try:
        return importlib.import_module(f"rnnlm.backends.{module}")
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in (framework, "onnx", "onnxruntime"):
            raise
        raise UsageError(f"{fmt} files need {framework}, which is not installed: {install_hint(extra)}") from None


def requested_name(flag=None, environ=None, training=False):
    """--backend, else $RNNLM_BACKEND (empty = unset); None when neither names one."""
    environ = os.environ if environ is None else environ
    name = flag or environ.get(ENV_VAR) or None
    return None if name is None else check_name(name, training)


def select_backend(flag=None, environ=None, training=False):
    """--backend, else $RNNLM_BACKEND (empty = unset), else torch if it imports, else mxnet.
    With `training`, an inference-only backend is refused before anything is imported."""
    name = requested_name(flag, environ, training)
    if name is not None:
        return load_backend(name)
    for candidate in BACKENDS:
        try:
            return load_backend(candidate)
        except UsageError:
            continue
    hint = "" if training else f" (predict and eval: or {install_hint('onnx')} and --backend onnxruntime)"
    raise UsageError(f"no backend is installed: {install_hint('torch')} or {install_hint('mxnet')}{hint}")
