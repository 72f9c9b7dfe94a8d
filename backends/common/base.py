"""The backend interface, written down once, in the layers einops' `AbstractBackend` and
Keras' backend packages draw:
- `InferenceBackend`: what the core calls to build a model from canonical weights, run it
  forward, continue a prefix greedily, evaluate a corpus, find devices. Every backend has it.
- `TrainingBackend`: the inference part plus steps, optimizers, threads and worker groups.
  Only backends the registry marks `trains` have it; the core asks the registry before it
  calls one, so an inference-only backend carries no stubs.
- `BookFunctions`: the d2l book's own helpers every backend provides for its readers
  (`try_gpu`, `one_hot`, `grad_clipping`); the core does not call them.
- `Diagnostics`: what the parity tests and benchmarks inspect (states as arrays, gradients,
  a wait for queued work); the core does not call them.

The boundary is NumPy-shaped: the core hands in int64 token arrays of shape (batch, steps)
and weights as {canonical name: ndarray}; it gets back device scalars (summed on the device,
read once with `to_float`) or NumPy arrays. States and optimizers are opaque framework
objects the core only passes back; of a model it reads the attributes of `Model`.
The trivial members have defaults in `common/defaults.py`, which a backend re-exports.

`check_conformance` is the one runtime check (run by the tests on every registered
backend); `common/type_check.py` has mypy check the same Protocols statically.
"""

import inspect
from types import ModuleType
from typing import Any, Callable, Dict, Generic, List, Mapping, Optional, Protocol, Tuple

import numpy as np

from rnnlm.config import ModelConfig


class Model(Protocol):
    """What the core reads from a backend's model."""

    cfg: ModelConfig
    device: Any
    dtype_name: str  # "float32" | "float64"
    group: Optional[Any]  # the engine's handle on its worker group; None alone


class InferenceBackend(Protocol):
    @property
    def NAME(self) -> str: ...
    @property
    def RNNModel(self) -> Callable[[ModelConfig, Any, str], Model]: ...

    def try_all_gpus(self) -> List[Any]: ...
    def resolve_device(self, spec: str) -> Any: ...
    def device_name(self, device: Any) -> str: ...
    def begin_state(self, model: Any, batch_size: int) -> Any: ...
    def get_weights(self, model: Any) -> Dict[str, np.ndarray]: ...
    def set_weights(self, model: Any, weights: Dict[str, np.ndarray]) -> None: ...
    def forward(self, model: Any, X: np.ndarray, state: Any) -> Tuple[np.ndarray, Any]: ...
    def eval_step(self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray) -> Tuple[Any, Any]: ...
    def greedy_continue(self, model: Any, state: Any, last: int, num_chars: int) -> Tuple[np.ndarray, Any]: ...
    def to_float(self, x: Any) -> float: ...
    def framework_version(self) -> str: ...
    def environment(self) -> Dict[str, Any]: ...  # threads, BLAS, devices: what a bug report needs


class TrainingBackend(InferenceBackend, Protocol):
    def detach_state(self, state: Any) -> Any: ...
    def make_optimizer(self, model: Any, lr: float, kind: str = "sgd") -> Any: ...
    def train_step(
        self, model: Any, optimizer: Any, state: Any, X: np.ndarray, Y: np.ndarray, clip: float
    ) -> Tuple[Any, Any, Any]: ...  # state, loss sum, norm before clipping
    def set_num_threads(self, n: int) -> None: ...
    def num_threads(self) -> int: ...  # what it computes with (some fix it when they load)
    def group_requested(self, environ: Mapping[str, str]) -> bool: ...
    def restart_note(self, environ: Mapping[str, str]) -> Optional[str]: ...
    def init_distributed(self, model: Any) -> Tuple[int, int]: ...
    def all_reduce_sum(self, model: Any, values: List[float]) -> List[float]: ...
    def finish_distributed(self, model: Any) -> None: ...


class BookFunctions(Protocol):
    """The book's helpers, as d2l names them, on this backend's tensors and devices."""

    def try_gpu(self, i: int = 0) -> Any: ...
    def one_hot(self, indices: Any, depth: int, dtype: str = "float32") -> Any: ...


class TrainingBookFunctions(BookFunctions, Protocol):
    def grad_clipping(self, model: Any, theta: float) -> Any: ...


class Diagnostics(Protocol):
    """What the parity tests and benchmarks look into."""

    def state_to_numpy(self, state: Any) -> List[np.ndarray]: ...


class TrainingDiagnostics(Diagnostics, Protocol):
    def loss_and_grads(
        self, model: Any, state: Any, X: np.ndarray, Y: np.ndarray
    ) -> Tuple[float, Dict[str, np.ndarray]]: ...
    def synchronize(self) -> None: ...


# ---- the one conformance check -------------------------------------------------------------


def protocols(trains: bool) -> Tuple[type, ...]:
    """Every Protocol a backend module implements: the training ones when it trains."""
    if trains:
        return (TrainingBackend, TrainingBookFunctions, TrainingDiagnostics)
    return (InferenceBackend, BookFunctions, Diagnostics)


def protocol_members(protocol: type) -> List[str]:
    """The public members `protocol` declares, its Protocol bases' included."""
    names = set()
    for cls in protocol.__mro__:
        if cls is not Protocol and cls is not object and cls is not Generic:
            names |= {n for n in vars(cls) if not n.startswith("_")}
    return sorted(names)


def _declared(protocol: type, name: str) -> Any:
    return next(vars(c)[name] for c in protocol.__mro__ if name in vars(c))


def check_conformance(module: ModuleType, trains: bool) -> List[str]:
    """What `module` lacks or declares differently from its Protocols; [] when it conforms."""
    problems = []
    for protocol in protocols(trains):
        problems += _problems(module, protocol)
    return problems


def _problems(module: ModuleType, protocol: type) -> List[str]:
    problems = []
    for name in protocol_members(protocol):
        declared = _declared(protocol, name)
        if not hasattr(module, name):
            problems.append(f"{module.__name__} has no {name}")
        elif inspect.isfunction(declared):
            want = [p for p in inspect.signature(declared).parameters if p != "self"]
            got = list(inspect.signature(getattr(module, name)).parameters)
            if got != want:
                problems.append(f"{module.__name__}.{name} takes {got}, the Protocol says {want}")
    return problems
