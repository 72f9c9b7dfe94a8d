"""ONNX Runtime backend: inference only (`predict`, `eval`), with neither torch nor mxnet.

Mirrors the inference half of the training backends. `set_weights` builds the graph of
`rnnlm.backends.onnxruntime_native` from canonical weights and opens a session on it, so any rnnlm
checkpoint runs here, converted on the fly; an exported `.onnx` file is read back into
canonical weights by `load_checkpoint` and rebuilt the same way. Computation is float32
(the ONNX Runtime RNN kernels are); the loss is summed in float64 NumPy. It implements the
`InferenceBackend` part of `rnnlm.backends.common.base` alone: the registry marks it as not
training, so the core never asks it to.
"""

import numpy as np
import onnxruntime as ort

from . import onnxruntime_native
from .common import defaults
from .common.defaults import device_name, state_to_numpy, to_float  # noqa: F401 (part of the interface)
from rnnlm.model.weights import check_weights

NAME = "onnxruntime"
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


# ---- devices ---------------------------------------------------------------------------


def try_gpu(i=0):
    """'cuda' if ONNX Runtime has its CUDA provider (device i is not selectable here), else 'cpu'."""
    return "cuda" if _PROVIDERS["cuda"] in ort.get_available_providers() else "cpu"


def try_all_gpus():
    return [try_gpu()]


def resolve_device(spec):
    return defaults.resolve_device(spec, try_gpu, lambda d: d == "cuda", lambda: "cpu", NAME)


# ---- the model -------------------------------------------------------------------------


def one_hot(indices, depth, dtype="float32"):
    return np.eye(depth, dtype=dtype)[np.asarray(indices, dtype=np.int64)]


class RNNModel:
    """A session on the model's ONNX graph; `set_weights` (re)builds it."""

    def __init__(self, cfg, device=None, dtype="float32"):
        self.cfg, self.device, self.dtype_name = cfg, device or "cpu", dtype
        self.group = None  # never part of a worker group
        self.weights, self.session = None, None
        self.state_names = onnxruntime_native.state_names(cfg)


def begin_state(model, batch_size):
    return [np.zeros(defaults.state_shape(model.cfg, batch_size), dtype=np.float32) for _ in model.state_names]


def get_weights(model):
    return {name: w.copy() for name, w in model.weights.items()}


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    model.weights = {name: np.array(w) for name, w in weights.items()}
    proto = onnxruntime_native.model_bytes(model.cfg, model.weights)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers are not the user's concern
    model.session = ort.InferenceSession(proto, options, providers=[_PROVIDERS[model.device]])


def forward(model, X, state):
    """Logits (steps * batch, vocab), time-major, and the next state."""
    feeds = {"tokens": np.ascontiguousarray(X, dtype=np.int64)}
    feeds.update(zip(model.state_names, state))
    logits, *state = model.session.run(None, feeds)
    return logits, state


def eval_step(model, state, X, Y):
    """(state, summed cross-entropy of the minibatch), as the other backends' eval_step."""
    logits, state = forward(model, X, state)
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.ascontiguousarray(Y.T).reshape(-1)  # time-major, as the logits
    return state, float(-log_p[np.arange(len(y)), y].sum())


def greedy_continue(model, state, last, num_chars):
    """`num_chars` greedy token ids after token `last`, one session call a character."""
    out, x = np.zeros(num_chars, dtype=np.int64), np.array([[last]], dtype=np.int64)
    for i in range(num_chars):
        logits, state = forward(model, x, state)
        x[0, 0] = out[i] = int(logits[0].argmax())
    return out, state


def framework_version():
    return ort.__version__


def environment():
    """What `rnnlm doctor` shows: the execution providers and device."""
    return {"providers": ort.get_available_providers(), "device": ort.get_device()}
