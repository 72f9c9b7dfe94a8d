"""ONNX Runtime backend: inference only (`predict`, `eval`), with neither torch nor mxnet.

Mirrors the inference half of `torch_impl`/`mxnet_impl`. `set_weights` builds the graph of
`rnnlm.backends.onnx_graph` from canonical weights and opens a session on it, so any rnnlm
checkpoint runs here, converted on the fly; an exported `.onnx` file is read back into
canonical weights by `load_checkpoint` and rebuilt the same way. Computation is float32
(the ONNX Runtime RNN kernels are); the loss is summed in float64 NumPy. Training calls
raise a UsageError.
"""

import numpy as np
import onnxruntime as ort

from . import onnx_graph
from rnnlm import threads
from rnnlm.errors import UsageError
from rnnlm.weights import check_weights

NAME = "onnxruntime"
_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _inference_only():
    raise UsageError("onnxruntime runs predict and eval only; train with --backend torch or mxnet")


# ---- devices ---------------------------------------------------------------------------

def try_gpu(i=0):
    """'cuda' if ONNX Runtime has its CUDA provider (device i is not selectable here), else 'cpu'."""
    return "cuda" if _PROVIDERS["cuda"] in ort.get_available_providers() else "cpu"


def try_all_gpus():
    return [try_gpu()]


def resolve_device(spec):
    if spec == "cpu":
        return "cpu"
    if spec in ("auto", "gpu"):
        device = try_gpu()
        if spec == "gpu" and device != "cuda":
            raise UsageError("--device gpu: onnxruntime has no CUDA provider (use --device cpu or auto)")
        return device
    raise UsageError(f"unknown device '{spec}' (choose from: auto, cpu, gpu)")


def device_name(device):
    return device


# ---- the model -------------------------------------------------------------------------

def one_hot(indices, depth, dtype="float32"):
    return np.eye(depth, dtype=dtype)[np.asarray(indices, dtype=np.int64)]


class RNNModel:
    """A session on the model's ONNX graph; `set_weights` (re)builds it."""

    def __init__(self, cfg, device=None, dtype="float32"):
        self.cfg, self.device, self.dtype_name = cfg, device or "cpu", dtype
        self.group = None  # never part of a worker group
        self.weights, self.session = None, None
        self.state_names = onnx_graph.state_names(cfg)


def begin_state(model, batch_size):
    cfg = model.cfg
    shape = (cfg.num_directions * cfg.num_layers, batch_size, cfg.num_hiddens)
    return [np.zeros(shape, dtype=np.float32) for _ in model.state_names]


def detach_state(state):
    return state


def state_to_numpy(state):
    return [np.array(s) for s in state]


def get_weights(model):
    return {name: w.copy() for name, w in model.weights.items()}


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    model.weights = {name: np.array(w) for name, w in weights.items()}
    proto = onnx_graph.model_bytes(model.cfg, model.weights)
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


def to_float(x):
    return float(x)


# ---- training: not here ----------------------------------------------------------------

def grad_clipping(model, theta):
    _inference_only()


def make_optimizer(model, lr, kind="sgd"):
    _inference_only()


def train_step(model, optimizer, state, X, Y, clip):
    _inference_only()


def loss_and_grads(model, state, X, Y):
    _inference_only()


def init_distributed(model):
    _inference_only()


def all_reduce_sum(model, values):
    return [float(v) for v in values]


def finish_distributed(model):
    return None


# ---- what training and worker groups need: not here --------------------------------------

def group_requested(environ):
    return False


def set_num_threads(n):
    """Sessions use ONNX Runtime's own thread pool; rnnlm does not set it."""


def num_threads():
    """ONNX Runtime's own pool: one thread a core, as it sizes it."""
    return threads.available_cores()


def synchronize():
    """Sessions return when their outputs are ready: nothing is queued."""


def framework_version():
    return ort.__version__


def restart_note(environ):
    return None
