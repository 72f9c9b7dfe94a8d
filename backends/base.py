"""The backend interface, written down once, and the defaults every backend shares.

Two layers, as einops' `AbstractBackend` and Keras' backend packages draw them:
- `InferenceBackend`: build a model from canonical weights, run it forward, continue a
  prefix greedily, evaluate a corpus, find devices. Every backend has these.
- `TrainingBackend`: the inference part plus steps, optimizers, clipping, threads and
  worker groups. Only backends the registry marks `trains` have them; the core asks the
  registry before it calls one, so an inference-only backend carries no stubs.

The boundary is NumPy-shaped: the core hands in int64 token arrays of shape (batch, steps)
and weights as {canonical name: ndarray}; it gets back device scalars (summed on the device,
read once with `to_float`) or NumPy arrays. States and optimizers are opaque framework
objects the core only passes back; of a model it reads the attributes of `Model`.

`check_conformance` is the one conformance check, run by the tests on every registered
backend; `backends/type_check.py` has mypy check the same Protocols statically.
"""

import inspect
from types import ModuleType
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

import numpy as np

from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError

DEVICE_SPECS = ("auto", "cpu", "gpu")


class Model(Protocol):
    """What the core reads from a backend's model."""
    cfg: ModelConfig
    device: Any
    dtype_name: str            # "float32" | "float64"
    group: Optional[Any]       # the engine's handle on its worker group; None alone


class InferenceBackend(Protocol):
    @property
    def NAME(self) -> str: ...
    @property
    def RNNModel(self) -> Callable[[ModelConfig, Any, str], Model]: ...

    def try_gpu(self, i: int = 0) -> Any: ...
    def try_all_gpus(self) -> List[Any]: ...
    def resolve_device(self, spec: str) -> Any: ...
    def device_name(self, device: Any) -> str: ...
    def one_hot(self, indices: Any, depth: int, dtype: str = "float32") -> Any: ...
    def begin_state(self, model: Any, batch_size: int) -> Any: ...
    def state_to_numpy(self, state: Any) -> List[np.ndarray]: ...
    def get_weights(self, model: Any) -> Dict[str, np.ndarray]: ...
    def set_weights(self, model: Any, weights: Dict[str, np.ndarray]) -> None: ...
    def forward(self, model: Any, X: np.ndarray, state: Any) -> Tuple[np.ndarray, Any]: ...
    def eval_step(self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray) -> Tuple[Any, Any]: ...
    def greedy_continue(self, model: Any, state: Any, last: int, num_chars: int
                        ) -> Tuple[np.ndarray, Any]: ...
    def to_float(self, x: Any) -> float: ...
    def framework_version(self) -> str: ...
    def environment(self) -> Dict[str, Any]: ...  # threads, BLAS, devices: what a bug report needs


class TrainingBackend(InferenceBackend, Protocol):
    def detach_state(self, state: Any) -> Any: ...
    def grad_clipping(self, model: Any, theta: float) -> Any: ...
    def make_optimizer(self, model: Any, lr: float, kind: str = "sgd") -> Any: ...
    def train_step(self, model: Any, optimizer: Any, state: Any, X: np.ndarray, Y: np.ndarray,
                   clip: float) -> Tuple[Any, Any, Any]: ...  # state, loss sum, norm before clipping
    def loss_and_grads(self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray
                       ) -> Tuple[float, Dict[str, np.ndarray]]: ...
    def set_num_threads(self, n: int) -> None: ...
    def num_threads(self) -> int: ...  # what it computes with (some fix it when they load)
    def synchronize(self) -> None: ...
    def group_requested(self, environ: Mapping[str, str]) -> bool: ...
    def restart_note(self, environ: Mapping[str, str]) -> Optional[str]: ...
    def init_distributed(self, model: Any) -> Tuple[int, int]: ...
    def all_reduce_sum(self, model: Any, values: List[float]) -> List[float]: ...
    def finish_distributed(self, model: Any) -> None: ...


# ---- the one conformance check -------------------------------------------------------------

def protocol_members(protocol: type) -> List[str]:
    """The public members `protocol` declares, its bases' included."""
    names = set()
    for cls in protocol.__mro__:
        if cls in (InferenceBackend, TrainingBackend, protocol):
            names |= {n for n in vars(cls) if not n.startswith("_")}
    return sorted(names)


def check_conformance(module: ModuleType, trains: bool) -> List[str]:
    """What `module` lacks or declares differently from its Protocol; [] when it conforms."""
    protocol = TrainingBackend if trains else InferenceBackend
    problems = []
    for name in protocol_members(protocol):
        declared = next(vars(c)[name] for c in protocol.__mro__ if name in vars(c))
        if not hasattr(module, name):
            problems.append(f"{module.__name__} has no {name}")
        elif inspect.isfunction(declared):
            want = [p for p in inspect.signature(declared).parameters if p != "self"]
            got = list(inspect.signature(getattr(module, name)).parameters)
            if got != want:
                problems.append(f"{module.__name__}.{name} takes {got}, the Protocol says {want}")
    return problems


# ---- shared defaults ---------------------------------------------------------------------

def resolve_device(spec: str, gpu: Callable[[], Any], is_gpu: Callable[[Any], bool], cpu: Callable[[], Any],
                   name: str) -> Any:
    """--device auto | cpu | gpu for any backend: `gpu()` gives a GPU or falls back to the
    CPU (as d2l's `try_gpu`); `gpu` insists on a real one."""
    if spec == "cpu":
        return cpu()
    if spec in ("auto", "gpu"):
        device = gpu()
        if spec == "gpu" and not is_gpu(device):
            raise UsageError(f"--device gpu: {name} sees no GPU (use --device cpu or auto)")
        return device
    raise UsageError(f"unknown device '{spec}' (choose from: {', '.join(DEVICE_SPECS)})")


def state_shape(cfg: ModelConfig, batch_size: int) -> Tuple[int, int, int]:
    """The shape of one hidden-state tensor: (directions * layers, batch, hidden)."""
    return (cfg.num_directions * cfg.num_layers, batch_size, cfg.num_hiddens)


def state_count(cfg: ModelConfig) -> int:
    """Tensors in a state: h and c for an LSTM, h alone otherwise."""
    return 2 if cfg.cell == "lstm" else 1


def alone_sum(values: List[float]) -> List[float]:
    """A worker group's sum when the process is alone: the values themselves."""
    return [float(v) for v in values]
