"""Defaults every backend shares: the members that would read the same in each backend
module, and the helpers several of them build on. A backend re-exports the defaults it
keeps (`from .common.defaults import to_float`) and writes its own where it differs."""

from typing import Any, Callable, List, Tuple

import numpy as np

from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError

DEVICE_SPECS = ("auto", "cpu", "gpu")


def to_float(x: Any) -> float:
    """A device scalar as a Python float (one host sync)."""
    return float(x)


def device_name(device: Any) -> str:
    """How the user sees a device: 'cpu', 'cuda:0', 'gpu(0)'."""
    return str(device)


def state_to_numpy(state: Any) -> List[np.ndarray]:
    """Each tensor of a state (one, or a tuple/list of them) as a NumPy array."""
    parts = state if isinstance(state, (tuple, list)) else (state,)
    return [np.array(s) for s in parts]


def resolve_device(
    spec: str, gpu: Callable[[], Any], is_gpu: Callable[[Any], bool], cpu: Callable[[], Any], name: str
) -> Any:
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
