"""The book's PyTorch checkpoints: a `state_dict` file, read with `torch.load(weights_only=True)`
(so no arbitrary object is ever unpickled) and written with `torch.save`.

Values cross as NumPy arrays; names are the caller's (see `rnnlm.model.names`).
"""

import io
import pickle
import pickletools
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch

from rnnlm.errors import UsageError
from rnnlm.library_errors import library_reason
from rnnlm.io.limits import check_zip, regular_file_size

MAX_LEGACY_BYTES = 1 << 30
MAX_DIMS = 4  # a weight has 1 or 2 dimensions
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")  # pre-1.6 torch.save
_INT_OPS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}


def check_legacy(path, size):
    """A pre-1.6 torch.save file: five pickles, then the storages. torch allocates each
    storage at the size its pickle claims before reading it, so the ints of the pickles
    (sizes among them) may not claim more than the file holds. The pickles are walked with
    pickletools, which decodes opcodes and runs nothing."""
    if size > MAX_LEGACY_BYTES:
        raise UsageError(f"'{path}' is {size} bytes, more than the {MAX_LEGACY_BYTES} allowed")
    with open(path, "rb") as f:
        stream = io.BytesIO(f.read(size + 1))  # a BytesIO never over-allocates a claim
    claimed = 0
    try:
        for index in range(5):  # the magic number, protocol, sys_info, the object, storage keys
            previous = None
            for op, arg, _ in pickletools.genops(stream):
                if index > 0 and op.name in _INT_OPS and isinstance(arg, int):
                    claimed += abs(arg)
                if op.name in _PUT_OPS and previous in _INT_OPS:
                    raise ValueError("an integer is memoized, which torch.save never does")
                previous = op.name
    except ValueError as exc:
        raise UsageError(f"'{path}' is not a readable PyTorch checkpoint ({str(exc)[:120]})") from None
    if claimed > size:
        raise UsageError(f"'{path}' claims tensors larger than its {size} bytes hold")


def read_state_dict(path):
    """{name: ndarray} of a state_dict file; anything else is a UsageError."""
    size = regular_file_size(path, "checkpoint")
    with open(path, "rb") as f:
        head = f.read(len(_LEGACY_MAGIC))
    if head.startswith(b"PK\x03\x04"):
        check_zip(path, "checkpoint")  # before torch's reader sees any declared size
    elif head.startswith(_LEGACY_MAGIC):
        check_legacy(path, size)  # another pickle: torch.load checks the magic before any storage
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4"
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise UsageError(
            f"'{path}' holds arbitrary Python objects, which rnnlm never unpickles "
            "(torch.load(weights_only=True) refused it); save model.state_dict() "
            "instead"
        ) from None
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        MemoryError,
        RecursionError,
        OverflowError,
        AssertionError,
    ) as exc:
        raise UsageError(f"'{path}' is not a readable PyTorch checkpoint ({library_reason(exc)})") from None
    if not isinstance(obj, Mapping):
        raise UsageError(f"'{path}' holds a {type(obj).__name__}, not a state_dict")
    out, logical = {}, 0
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise UsageError(
                f"'{path}' holds a non-tensor value under {name!r} ({type(value).__name__}), not a plain state_dict"
            )
        check_tensor(path, name, value)
        logical += value.numel() * value.element_size()
        if logical > size:  # a state_dict's tensors each hold their own bytes of the file
            raise UsageError(
                f"'{path}': its tensors claim more than the file's {size} bytes hold "
                f"(at {name}: views of shared or repeated storage?)"
            )
        wide = torch.float64 if value.dtype == torch.float64 else torch.float32  # bf16/f16 too
        out[str(name)] = value.detach().to(wide).numpy().copy()
    return out


def check_tensor(path, name, value):
    """A dense CPU floating-point tensor of at most MAX_DIMS dimensions whose strides stay
    inside its own storage and never repeat an element (a stride-0 view of 100000 x 100000
    would be 37 GiB once copied); all before a byte of it is copied."""
    if value.device.type != "cpu":
        raise UsageError(f"'{path}': tensor {name} is on the {value.device.type} device, which holds no data")
    if value.layout != torch.strided:
        raise UsageError(f"'{path}': tensor {name} is {value.layout}, not a dense tensor")
    if not value.is_floating_point():
        raise UsageError(f"'{path}': tensor {name} has dtype {value.dtype}; model weights must be floating point")
    if value.dim() > MAX_DIMS:
        raise UsageError(f"'{path}': tensor {name} has {value.dim()} dimensions; a weight has at most {MAX_DIMS}")
    shape, strides = value.shape, value.stride()
    if value.numel() and any(st <= 0 for d, st in zip(shape, strides) if d > 1):
        raise UsageError(f"'{path}': tensor {name} has strides {strides}, which repeat its elements")
    extent = value.storage_offset() + sum((d - 1) * st for d, st in zip(shape, strides)) + 1 if value.numel() else 0
    storage = value.untyped_storage().nbytes()
    if extent * value.element_size() > storage or value.numel() * value.element_size() > storage:
        raise UsageError(f"'{path}': tensor {name} claims more elements than its storage holds")


def state_dict_bytes(named):
    """The bytes `torch.save` writes for {name: ndarray}, in the given order."""
    state = OrderedDict((name, torch.from_numpy(np.ascontiguousarray(a))) for name, a in named.items())
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()
