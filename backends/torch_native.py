"""The book's PyTorch checkpoints: a `state_dict` file, read with `torch.load(weights_only=True)`
(so no arbitrary object is ever unpickled) and written with `torch.save`.

Values cross as NumPy arrays; names are the caller's (see `rnnlm.interop.names`).
"""

import io
import pickle
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from rnnlm.errors import UsageError


def read_state_dict(path):
    """{name: ndarray} of a state_dict file; anything else is a UsageError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UsageError(f"'{path}' holds arbitrary Python objects, which rnnlm never unpickles "
                         "(torch.load(weights_only=True) refused it); save model.state_dict() "
                         "instead") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise UsageError(f"'{path}' is not a readable PyTorch checkpoint ({first})") from None
    if not isinstance(obj, Mapping):
        raise UsageError(f"'{path}' holds a {type(obj).__name__}, not a state_dict")
    out = {}
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise UsageError(f"'{path}' holds a non-tensor value under {name!r} "
                             f"({type(value).__name__}), not a plain state_dict")
        if not value.is_floating_point():
            raise UsageError(f"'{path}': tensor {name} has dtype {value.dtype}; "
                             "model weights must be floating point")
        if value.layout != torch.strided:
            raise UsageError(f"'{path}': tensor {name} is {value.layout}, not a dense tensor")
        wide = torch.float64 if value.dtype == torch.float64 else torch.float32  # bf16/f16 too
        out[str(name)] = value.detach().to(wide).numpy().copy()
    return out


def state_dict_bytes(named):
    """The bytes `torch.save` writes for {name: ndarray}, in the given order."""
    state = OrderedDict((name, torch.from_numpy(np.ascontiguousarray(a))) for name, a in named.items())
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()
