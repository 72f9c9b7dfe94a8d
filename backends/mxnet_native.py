"""The book's MXNet checkpoints: a Gluon `.params` file, read with `mx.nd.load` and written with
`mx.nd.save` (MXNet's own binary NDArray format, not a pickle).

Values cross as NumPy arrays; names are the caller's (see `rnnlm.interop.names`).
"""

import os
import tempfile

from . import mxnet_compat  # noqa: F401  (np.bool for MXNet 1.9.1; before mxnet loads)
import mxnet as mx
import numpy as np

from rnnlm.errors import UsageError


def read_params(path):
    """{name: ndarray} of a .params file; anything else is a UsageError."""
    try:
        loaded = mx.nd.load(os.fspath(path))
    except (mx.base.MXNetError, OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UsageError(f"'{path}' is not a readable MXNet .params file ({first})") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"'{path}' holds {len(loaded)} unnamed arrays, not a model's parameters")
    out = {}
    for name, value in loaded.items():
        if getattr(value, "stype", "default") != "default":
            raise UsageError(f"'{path}': tensor {name} is {value.stype}, not a dense array")
        if np.dtype(value.dtype).kind != "f":
            raise UsageError(f"'{path}': tensor {name} has dtype {np.dtype(value.dtype).name}; "
                             "model weights must be floating point")
        array = value.asnumpy()
        out[str(name)] = array if array.dtype == np.float64 else array.astype(np.float32)
    return out


def params_bytes(named):
    """The bytes `mx.nd.save` writes for {name: ndarray} (it only writes to a path)."""
    arrays = {name: mx.nd.array(a, dtype=a.dtype) for name, a in named.items()}
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.params")
        mx.nd.save(path, arrays)
        with open(path, "rb") as f:
            return f.read()
