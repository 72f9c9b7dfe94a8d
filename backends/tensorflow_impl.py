"""TensorFlow backend: the book's concise RNN model on raw TensorFlow ops, compiled with
`tf.function`.

Mirrors `torch_impl` name for name. Raw ops, not Keras layers (`SimpleRNN`, `GRU`, `LSTM`),
for three reasons:
- exact parity: Keras' GRU puts its reset gate after the recurrent product by default only
  with `reset_after=True` and keeps biases and gates in its own layout, its LSTM adds one
  bias, and Keras 3 dropped `time_major`; written out, each cell is PyTorch's formula
  term for term (gates in its order: GRU r, z, n; LSTM i, f, g, o), so float64 agrees with
  the other backends to round-off;
- the parameters are the canonical weights: one `tf.Variable` per canonical name in
  PyTorch's layout (`rnnlm.model.weights`), so weights cross name for name, with no second
  naming scheme and no Keras at all (TensorFlow alone is the dependency);
- the whole training step -- the time loop unrolled over the minibatch's steps, the mean
  cross-entropy, the gradient (`tf.GradientTape`), the book's clipping and the update -- is
  one `tf.function` graph, traced once per model, optimizer and shape.

The runtime (thread pools, determinism) starts lazily, at the first computation or thread
request, see `tensorflow_runtime`; until then a model holds its weights as NumPy arrays.
The device scalars the training loop adds up are `_Scalar`s: TensorFlow refuses to add a
bool to a float, which the loop's `clipped + (norm > clip)` does.
"""

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from .common import defaults
from . import tensorflow_runtime as runtime
from .tensorflow_runtime import tf
from .tensorflow_kernel import rnn_layer, transposed
from .tensorflow_engine import group_of, group_requested, restart_note  # noqa: F401 (part of the interface)
from rnnlm.errors import UsageError
from rnnlm.model.weights import canonical_shapes, check_weights, rnn_weight_names

NAME = "tensorflow"
_ADAM = (0.9, 0.999, 1e-8)  # torch.optim.Adam's defaults: beta1, beta2, eps
KERNEL = True  # the vanilla RNN through tensorflow_kernel (False: the tape differentiates the loop)
COLLECTIVE_SECONDS = 300  # a peer silent this long has died: the step fails, and the launcher restarts
JIT_COMPILE = False  # XLA on the CPU measured slower for this model (benchmarks/bench_train.py)
TRACES: Dict[str, int] = {}  # times each compiled function was traced (tests read it)


def _traced(name):
    TRACES[name] = TRACES.get(name, 0) + 1


def set_num_threads(n):
    """Size TensorFlow's pools to n when the runtime has not started yet (a run asks before
    its first minibatch); afterwards nothing changes: TensorFlow fixed them when it started."""
    runtime.start(n)


def num_threads():
    """The intra-op count TensorFlow computes with (the one it will start with, before)."""
    return runtime.started() or runtime.planned_count()


def synchronize():
    """Wait for queued work: on the CPU, eager TensorFlow returns once an operation has run;
    GPUs queue it."""
    if runtime.started() and _gpus():
        tf.test.experimental.sync_devices()


# ---- devices ---------------------------------------------------------------------------
# listing physical devices does not start the runtime, so the pools can still be sized


def _gpus():
    return tf.config.list_physical_devices("GPU")


def try_gpu(i=0):
    """GPU i if it exists, else the CPU (as d2l's `try_gpu`)."""
    return f"/GPU:{i}" if len(_gpus()) >= i + 1 else "/CPU:0"


def try_all_gpus():
    """All GPUs, or [cpu] when there is none."""
    return [f"/GPU:{i}" for i in range(len(_gpus()))] or ["/CPU:0"]


def resolve_device(spec):
    return defaults.resolve_device(spec, try_gpu, lambda d: d.startswith("/GPU"), lambda: "/CPU:0", NAME)


def device_name(device):
    return "cpu" if device == "/CPU:0" else f"gpu:{device.rsplit(':', 1)[1]}"


# ---- the model: canonical weights as variables, the recurrence in raw ops ---------------


def one_hot(indices, depth, dtype="float32"):
    runtime.start()
    return tf.one_hot(tf.convert_to_tensor(np.asarray(indices), tf.int64), depth, dtype=dtype)


def _linear(x, w, b):
    """x @ w.T + b (w in PyTorch's (out, in) layout)."""
    return tf.matmul(x, w, transpose_b=True) + b


def _step_fn(cfg):
    """One time step, (carry, x_t W_ih^T + b_ih[, + b_hh], W_hh^T, b_hh) -> carry, as PyTorch
    computes it (W_hh^T: `transposed` once before the loop)."""
    if cfg.cell == "rnn":
        act = tf.nn.relu if cfg.activation == "relu" else tf.tanh

        def rnn(carry, xw, w_t, b_hh):
            del b_hh  # added to xw with b_ih before the loop, as the PyTorch backend does
            return (act(xw + tf.matmul(carry[0], w_t)),)

        return rnn
    if cfg.cell == "gru":

        def gru(carry, xw, w_t, b_hh):
            (h,) = carry
            xr, xz, xn = tf.split(xw, 3, axis=-1)
            hr, hz, hn = tf.split(tf.matmul(h, w_t) + b_hh, 3, axis=-1)
            r, z = tf.sigmoid(xr + hr), tf.sigmoid(xz + hz)
            n = tf.tanh(xn + r * hn)
            return (n + z * (h - n),)  # = (1 - z) * n + z * h, written as ATen's gru_cell does

        return gru

    def lstm(carry, xw, w_t, b_hh):
        h, c = carry
        i, f, g, o = tf.split(xw + (tf.matmul(h, w_t) + b_hh), 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return (tf.sigmoid(o) * tf.tanh(c), c)

    return lstm


def _forward(cfg, params, state, X):
    """Logits ((steps * batch, vocab), time-major, as the book's model) and the new state.

    `state` is a tuple of (layers * directions, batch, hidden) tensors: (h,) or (h, c). The
    time loop is a Python loop, unrolled when traced (the steps are known per shape); each
    layer's input projection over all steps is one product before it."""
    dtype = params["linear.weight"].dtype
    steps = X.shape[1]
    layer_in = tf.one_hot(tf.transpose(X), cfg.vocab_size, dtype=dtype)  # (steps, batch, vocab)
    step = _step_fn(cfg)
    finals: List[list] = [[] for _ in state]
    outs: list = []
    for index, (_, suffix, (w_ih, w_hh, b_ih, b_hh)) in enumerate(rnn_weight_names(cfg)):
        bias = params[b_ih] + params[b_hh] if cfg.cell == "rnn" else params[b_ih]
        flat = tf.reshape(layer_in, (-1, layer_in.shape[-1]))
        xw = tf.reshape(_linear(flat, params[w_ih], bias), (steps, -1, params[w_ih].shape[0]))
        carry = tuple(s[index] for s in state)
        if cfg.cell == "rnn" and KERNEL:
            layer_out, h_last = rnn_layer(xw, carry[0], params[w_hh], cfg.activation == "relu", suffix == "_reverse")
            carry = (h_last,)
        else:
            inputs, ys = tf.unstack(xw), [()] * steps  # type: Any, List[Any]
            order = range(steps - 1, -1, -1) if suffix == "_reverse" else range(steps)
            w_t = transposed(params[w_hh])
            for t in order:
                carry = ys[t] = step(carry, inputs[t], w_t, params[b_hh])
            layer_out = tf.stack([y[0] for y in ys])
        for acc, part in zip(finals, carry):
            acc.append(part)
        outs.append(layer_out)
        if len(outs) == cfg.num_directions:  # the layer is complete: it feeds the next
            layer_in, outs = (outs[0] if len(outs) == 1 else tf.concat(outs, axis=-1)), []
    flat = tf.reshape(layer_in, (-1, layer_in.shape[-1]))
    logits = _linear(flat, params["linear.weight"], params["linear.bias"])
    return logits, tuple(tf.stack(parts) for parts in finals)


def _mean_loss(cfg, params, state, X, Y):
    """Mean cross-entropy. The label's log-probability is picked by a one-hot product, not a
    gather or the sparse fused op: their gradients scatter, which has no deterministic GPU
    kernel (op determinism would refuse it); the product adds exact zeros, the same value."""
    logits, state = _forward(cfg, params, state, X)
    y = tf.reshape(tf.transpose(Y), (-1,))  # time-major, as the logits
    picked = tf.one_hot(y, cfg.vocab_size, dtype=logits.dtype) * tf.nn.log_softmax(logits)
    return -tf.reduce_mean(tf.reduce_sum(picked, axis=1)), state


def _clip(cfg, grads, theta):
    """(norm, grads scaled to norm <= theta): the book's grad_clipping, norm = sqrt of the sum
    of squares (summed in canonical order); scale = min(1, theta / norm) is its
    `if norm > theta: grad *= theta / norm` without a branch."""
    norm = tf.sqrt(tf.add_n([tf.reduce_sum(grads[n] * grads[n]) for n in canonical_shapes(cfg)]))
    scale = tf.minimum(tf.cast(theta, norm.dtype) / norm, tf.constant(1.0, norm.dtype))
    return norm, {n: g * scale for n, g in grads.items()}


class RNNModel:
    """The book's RNN model as data: its config, its device and its parameters, one
    `tf.Variable` per canonical name in PyTorch's layout. Outputs have shape
    (num_steps * batch_size, vocab_size), time-major, as in the other backends. The values
    come from `set_weights` (rnnlm.model.weights.init_weights, drawn in NumPy); they stay
    NumPy until the model first computes, so that building a model does not start
    TensorFlow's runtime before the run has sized its pools."""

    def __init__(self, cfg, device=None, dtype="float32") -> None:
        self.cfg = cfg
        self.dtype_name = dtype
        self.device = device if device is not None else "/CPU:0"
        self.group: Optional[WorkerGroup] = None  # set by init_distributed
        self.values = {name: np.zeros(shape, dtype) for name, shape in canonical_shapes(cfg).items()}
        self.variables: Optional[Dict[str, Any]] = None
        self.grads: Optional[Dict[str, Any]] = None  # after loss_and_grads, as after backward
        self.compiled: Dict[str, Any] = {}


def _params(model):
    """The model's variables, made from its NumPy values the first time they are needed."""
    if model.variables is None:
        runtime.start()
        with tf.device(model.device):
            model.variables = {
                n: tf.Variable(model.values[n], name=n.replace(".", "_")) for n in canonical_shapes(model.cfg)
            }
        model.values = None
    return model.variables


def _compiled(model, key, make):
    """`make()` wrapped in tf.function once per model (it closes over the model's variables)."""
    if key not in model.compiled:
        model.compiled[key] = tf.function(make(), jit_compile=JIT_COMPILE, reduce_retracing=False)
    return model.compiled[key]


def begin_state(model, batch_size):
    runtime.start()
    shape = defaults.state_shape(model.cfg, batch_size)
    with tf.device(model.device):
        return tuple(tf.zeros(shape, model.dtype_name) for _ in range(defaults.state_count(model.cfg)))


def detach_state(state):
    """The state itself: a tensor outside a tape carries no graph to cut."""
    return state


def state_to_numpy(state):
    return [np.array(s) for s in state]


def _tokens(model, array):
    with tf.device(model.device):
        return tf.convert_to_tensor(np.asarray(array, dtype=np.int32))


# ---- weights in the canonical layout -----------------------------------------------------


def get_weights(model):
    if model.variables is None:
        return {name: np.array(v) for name, v in model.values.items()}
    return {name: v.numpy().copy() for name, v in model.variables.items()}


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    values = {n: np.array(weights[n], dtype=model.dtype_name) for n in canonical_shapes(model.cfg)}
    if model.variables is None:
        model.values = values
    else:
        for name, v in model.variables.items():
            v.assign(values[name])
    model.grads = None


# ---- the device scalars the loop adds up ---------------------------------------------------


class _Scalar:
    """A device scalar the training loop may add to, scale and compare with Python numbers (a
    comparison gives 0.0 or 1.0, as NumPy's bool does in a sum), read once by `to_float`.
    Loss sums are plain tensors; the gradient norm is one of these, since the loop counts
    clipped minibatches as `clipped + (norm > clip)`."""

    __slots__ = ("t",)

    def __init__(self, t):
        self.t = t

    def _of(self, other):
        return other.t if isinstance(other, _Scalar) else tf.cast(other, self.t.dtype)

    def __add__(self, other):
        return _Scalar(self.t + self._of(other))

    __radd__ = __add__

    def __mul__(self, other):
        return _Scalar(self.t * self._of(other))

    __rmul__ = __mul__

    def __truediv__(self, other):
        return _Scalar(self.t / self._of(other))

    def __gt__(self, other):
        return _Scalar(tf.cast(self.t > self._of(other), self.t.dtype))

    def __lt__(self, other):
        return _Scalar(tf.cast(self.t < self._of(other), self.t.dtype))

    def __float__(self):
        return float(self.t)


def to_float(x):
    return float(x)


# ---- training ----------------------------------------------------------------------------


def grad_clipping(model, theta):
    """Scale the model's last gradients so their global L2 norm is at most theta; return the
    norm before (a device scalar), as the other backends do after a backward pass."""
    norm, model.grads = _clip(model.cfg, model.grads, float(theta))
    return _Scalar(norm)


@dataclass
class _Optimizer:
    """What `make_optimizer` returns and `train_step` updates: the rule, its state, and the
    compiled steps that close over both."""

    kind: str
    lr: float
    slots: Any = None  # Adam: (m, v, step count) as variables
    compiled: Dict[str, Any] = field(default_factory=dict)


def make_optimizer(model, lr, kind="sgd"):
    """SGD (the book's) or Adam as torch.optim.Adam computes it (what `rnnlm compress
    --online` learns with)."""
    if kind not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {kind!r}")
    opt = _Optimizer(kind, float(lr))
    if kind == "adam":
        params = _params(model)
        with tf.device(model.device):
            zeros = lambda: {n: tf.Variable(tf.zeros_like(p)) for n, p in params.items()}  # noqa: E731
            opt.slots = (zeros(), zeros(), tf.Variable(tf.zeros((), model.dtype_name)))
    return opt


def _apply(model, opt, grads):
    """The update, inside a compiled step: SGD, or Adam as torch.optim.Adam."""
    params = model.variables
    lr = tf.constant(opt.lr, model.dtype_name)
    if opt.kind == "sgd":
        for name, p in params.items():
            p.assign_sub(lr * grads[name])
        return
    beta1, beta2, eps = (tf.constant(c, model.dtype_name) for c in _ADAM)
    m, v, t = opt.slots
    t.assign_add(tf.constant(1.0, model.dtype_name))
    step, root = lr / (1 - beta1**t), tf.sqrt(1 - beta2**t)
    for name, p in params.items():
        g = grads[name]
        m[name].assign(beta1 * m[name] + (1 - beta1) * g)
        v[name].assign(beta2 * v[name] + (1 - beta2) * g * g)
        p.assign_sub(step * m[name] / (tf.sqrt(v[name]) / root + eps))


def _grads_of(model, state, X, Y):
    params = _params(model)
    names = list(params)
    with tf.GradientTape() as tape:
        loss, state = _mean_loss(model.cfg, params, state, X, Y)
    grads = tape.gradient(loss, [params[n] for n in names])
    return loss, state, dict(zip(names, grads))


def _train_step_fn(model, opt):
    def step(state, X, Y, clip):
        _traced("train_step")
        loss, state, grads = _grads_of(model, state, X, Y)
        norm, grads = _clip(model.cfg, grads, clip)
        _apply(model, opt, grads)
        return state, loss * tf.cast(tf.size(Y), loss.dtype), norm

    return step


def train_step(model, optimizer, state, X, Y, clip):
    """Forward, backward, clip, update in one compiled step. Returns (new state, summed loss,
    gradient norm before clipping), both on the device. In a group, the workers' gradients
    are averaged before clipping, so the step is the one a single process takes over the
    whole minibatch."""
    _params(model)
    X, Y = _tokens(model, X), _tokens(model, Y)
    clip = tf.constant(float(clip), model.dtype_name)
    with tf.device(model.device):
        if model.group is None:
            if "train" not in optimizer.compiled:
                optimizer.compiled["train"] = tf.function(_train_step_fn(model, optimizer), jit_compile=JIT_COMPILE)
            state, loss_sum, norm = optimizer.compiled["train"](state, X, Y, clip)
        else:
            state, loss_sum, norm = _group_step(model, optimizer, state, X, Y, clip)
    return state, loss_sum, _Scalar(norm)


def _eval_fn(model):
    def evaluate(state, X, Y):
        _traced("eval_step")
        loss, state = _mean_loss(model.cfg, model.variables, state, X, Y)
        return state, loss * tf.cast(tf.size(Y), loss.dtype)

    return evaluate


def eval_step(model, state, X, Y):
    _params(model)
    with tf.device(model.device):
        state, loss_sum = _compiled(model, "eval", lambda: _eval_fn(model))(state, _tokens(model, X), _tokens(model, Y))
    return state, loss_sum


def _forward_fn(model):
    def run(state, X):
        _traced("forward")
        return _forward(model.cfg, model.variables, state, X)

    return run


def forward(model, X, state):
    _params(model)
    with tf.device(model.device):
        logits, state = _compiled(model, "forward", lambda: _forward_fn(model))(state, _tokens(model, X))
    return logits.numpy(), state


def _greedy_fn(model):
    def greedy(state, last, num_chars):
        """`num_chars` greedy steps, each the whole model on one character (as the book's
        predict_ch8), in one graph loop: no host round trip per character."""
        _traced("greedy")
        ids = tf.TensorArray(tf.int32, size=num_chars)
        x = last
        for i in tf.range(num_chars):
            logits, state = _forward(model.cfg, model.variables, state, tf.reshape(x, (1, 1)))
            x = tf.cast(tf.argmax(logits[-1]), tf.int32)
            ids = ids.write(i, x)
        return ids.stack(), state

    return greedy


def greedy_continue(model, state, last, num_chars):
    """`num_chars` greedy token ids after token `last`. Returns (ids as NumPy, state)."""
    _params(model)
    if num_chars <= 0:
        return np.zeros(0, np.int64), state
    with tf.device(model.device):
        ids, state = _compiled(model, "greedy", lambda: _greedy_fn(model))(
            state, tf.constant(int(last), tf.int32), tf.constant(int(num_chars), tf.int32)
        )
    return ids.numpy().astype(np.int64), state


def _loss_grads_fn(model):
    def loss_grads(state, X, Y):
        _traced("loss_and_grads")
        loss, _, grads = _grads_of(model, state, X, Y)
        return loss, grads

    return loss_grads


def loss_and_grads(model, state, X, Y):
    """The mean loss and its gradient for every weight (canonical names), without updating.

    The gradients stay on the model afterwards, as after a backward pass.
    """
    _params(model)
    with tf.device(model.device):
        loss, model.grads = _compiled(model, "loss_and_grads", lambda: _loss_grads_fn(model))(
            state, _tokens(model, X), _tokens(model, Y)
        )
    return float(loss), {name: g.numpy() for name, g in model.grads.items()}


def framework_version():
    return tf.__version__


def environment():
    """What `rnnlm doctor` shows: the pools and switches, the devices, how TF was built."""
    build = tf.sysconfig.get_build_info()
    return {
        **runtime.environment(),
        "gpus": [d.name for d in _gpus()],
        "cuda_build": build.get("cuda_version"),
        "jit_compile": JIT_COMPILE,
    }


# ---- data parallelism (tf.distribute.MultiWorkerMirroredStrategy) -----------------------


@dataclass
class WorkerGroup:
    """This process's place in the group and the strategy whose collectives join it."""

    rank: int
    world_size: int
    strategy: Any
    summed: Any = None  # the compiled sum over workers


def init_distributed(model):
    """Join the group TF_CONFIG describes: MultiWorkerMirroredStrategy reads TF_CONFIG itself,
    starts this worker's gRPC server and configures the collectives (ring on the CPU, NCCL on
    GPUs). It must come before the runtime computes anything, which is why models keep NumPy
    values until they first compute. Returns (rank, world_size)."""
    workers, index = group_of(os.environ)
    if len(workers) < 2:
        raise UsageError(
            "the tensorflow backend was asked to join a group without a TF_CONFIG naming two or more workers"
        )
    runtime.start()  # the pools, before the strategy starts the runtime
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=(
            tf.distribute.experimental.CommunicationImplementation.NCCL
            if model.device.startswith("/GPU")
            else tf.distribute.experimental.CommunicationImplementation.RING
        ),
        timeout_seconds=COLLECTIVE_SECONDS,
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    model.group = WorkerGroup(index, len(workers), strategy)
    return index, len(workers)


def _replica_sum(v):
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, v)


def _sum_over_workers(strategy, x):
    """Inside a tf.function: the sum over the group's workers of tensor `x` (every worker gets
    the same bits: the ring reduces each chunk once and passes the result on). A traced
    tensor has no device, from which the collective would take its destination: it is
    placed on this worker's device first."""
    with tf.device(strategy.extended.worker_devices[0]):
        x = tf.identity(x)
    return strategy.experimental_local_results(strategy.run(_replica_sum, args=(x,)))[0]


def _group_sum(model, x):
    """`_sum_over_workers` compiled (eager collectives are slow, TensorFlow warns), one trace
    per shape; a peer that died or hung up becomes the RuntimeError the core reports."""
    group = model.group
    if group.summed is None:
        group.summed = tf.function(lambda v: _sum_over_workers(group.strategy, v))
    try:
        return group.summed(x)
    except (tf.errors.OpError, RuntimeError) as exc:
        raise RuntimeError(f"a TensorFlow collective failed: {(str(exc).splitlines() or [''])[0]}") from exc


def finish_distributed(model):
    """Leave the group together: one last collective, so no worker exits while a peer still
    waits for it."""
    if model.group is not None:
        _group_sum(model, tf.zeros((), tf.float64))
        model.group = None


def all_reduce_sum(model, values):
    """Sum each float over the group's workers (the values themselves when alone)."""
    if model.group is None:
        return defaults.alone_sum(values)
    with tf.device(model.device):
        summed = _group_sum(model, tf.constant([float(v) for v in values], tf.float64))
    return [float(v) for v in summed.numpy()]


def _group_step_fn(model, opt):
    def group_step(state, X, Y, clip):
        """This worker's rows' loss and gradient, the workers' mean gradient (one collective
        over the flattened gradients), clipped, and the update: one graph."""
        _traced("group_step")
        loss, state, grads = _grads_of(model, state, X, Y)
        names = list(canonical_shapes(model.cfg).items())
        flat = tf.concat([tf.reshape(grads[n], (-1,)) for n, _ in names], 0)
        flat = _sum_over_workers(model.group.strategy, flat) / tf.cast(model.group.world_size, flat.dtype)
        mean, offset = {}, 0
        for name, shape in names:
            size = int(np.prod(shape))
            mean[name], offset = tf.reshape(flat[offset : offset + size], shape), offset + size
        norm, mean = _clip(model.cfg, mean, clip)
        _apply(model, opt, mean)
        return state, loss * tf.cast(tf.size(Y), loss.dtype), norm

    return group_step


def _group_step(model, optimizer, state, X, Y, clip):
    """A step in a group: the workers' gradients averaged before clipping, so the step is the
    one a single process takes over the whole minibatch."""
    if "group" not in optimizer.compiled:
        optimizer.compiled["group"] = tf.function(_group_step_fn(model, optimizer), jit_compile=JIT_COMPILE)
    try:
        return optimizer.compiled["group"](state, X, Y, clip)
    except (tf.errors.OpError, RuntimeError) as exc:
        raise RuntimeError(f"a TensorFlow collective failed: {(str(exc).splitlines() or [''])[0]}") from exc
