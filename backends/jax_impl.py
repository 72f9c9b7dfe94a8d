"""JAX backend: the book's concise RNN model as a pytree of parameters and pure functions.

Mirrors `torch_impl` name for name. In JAX's own idiom, and not Flax NNX cells as the
book's JAX tab uses, for three reasons:
- the parameters *are* the canonical weights: one dict {canonical name: array} in
  PyTorch's layout (`rnnlm.model.weights`), so `get_weights`/`set_weights` copy name for name,
  with no second naming scheme to map and no dependency beyond jax itself;
- `jax.jit`, `jax.value_and_grad` and `lax.scan` act on pure functions of (params, state,
  batch), so the whole training step -- the time loop as a scan, the mean cross-entropy,
  the gradient, the clipping, the update -- is one XLA program, compiled once per shape;
- the model object only holds the current arrays (and the last gradients, as a torch
  model holds `.grad` after backward); every computation is a function of its arguments,
  which is what makes two runs, or two workers, comparable bit for bit.

float64, threads, the worker group and the trace counts are process-wide: `jax_runtime`
holds them. With XLA's fixed pool, the same command repeats bit for bit on one machine
(tests/test_jax.py runs it twice in fresh processes).
"""

import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Dict, List, Optional

from . import jax_runtime
from .jax_runtime import TRACES
from .jax_runtime import dtype as _dtype  # float64 turns on JAX's x64 switch (see jax_runtime)

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .common import defaults
from .common.defaults import state_to_numpy, to_float  # noqa: F401 (part of the interface)
from .jax_kernel import rnn_layer
from .jax_engine import group_of, group_requested, restart_note  # noqa: F401 (part of the interface)
from rnnlm.errors import UsageError
from rnnlm.library_errors import library_reason
from rnnlm.model.weights import canonical_shapes, check_weights, rnn_weight_names

NAME = "jax"
_HIGHEST = lax.Precision.HIGHEST  # true float32 products on GPUs too (no TF32), as torch's
_ADAM = (0.9, 0.999, 1e-8)  # torch.optim.Adam's defaults: beta1, beta2, eps


def set_num_threads(n):
    """Nothing to do: XLA's thread count is fixed when the backend starts (see above)."""
    del n


def num_threads():
    """XLA's CPU pool (jax_runtime.pool_threads): what the run records."""
    return jax_runtime.pool_threads()


def synchronize():
    """Wait for the computation last dispatched (JAX dispatches asynchronously)."""
    if jax_runtime.LAST_DISPATCHED:
        jax.block_until_ready(jax_runtime.LAST_DISPATCHED[-1])


# ---- devices and the worker group ----------------------------------------------------


def _join_requested_group():
    """Join the group the JAX_* variables describe, once, before JAX touches a device:
    jax.distributed must start before its backends do, so device lookup comes here first."""
    if jax_runtime.GROUP.joined or not group_requested(os.environ):
        return
    address, processes, rank = group_of(os.environ)
    try:  # CPU collectives across processes: gloo (already the default at jax 0.6.2)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except AttributeError:  # jax < 0.4.32 names the switch differently
        jax.config.update("jax_cpu_enable_gloo_collectives", True)
    jax.distributed.initialize(address, processes, rank)
    jax_runtime.GROUP.joined = True


def _platforms_error(detail):
    """JAX_PLATFORMS naming a platform this machine cannot start (`cuda` without a GPU, a typo)
    ends jax's start in an AssertionError or leaves no CPU device: one line instead."""
    named = os.environ.get("JAX_PLATFORMS")
    where = f"JAX_PLATFORMS={named!r}: " if named else ""
    return UsageError(
        f"{where}jax cannot start a device here ({detail}); unset JAX_PLATFORMS or set it "
        "to platforms this machine has, e.g. cpu"
    )


def _local_devices(platform):
    _join_requested_group()
    try:
        return jax.local_devices(backend=platform)
    except RuntimeError:  # no such backend (no GPU, or no CUDA plugin)
        return []
    except (AssertionError, ValueError, IndexError) as exc:  # jax's start failed as a whole
        raise _platforms_error(library_reason(exc) or type(exc).__name__) from None


def _cpu():
    devices = _local_devices("cpu")
    if not devices:
        raise _platforms_error("no CPU device")
    return devices[0]


def try_gpu(i=0):
    """GPU i if it exists, else the CPU (as d2l's `try_gpu`)."""
    gpus = _local_devices("gpu")
    return gpus[i] if len(gpus) >= i + 1 else _cpu()


def try_all_gpus():
    """All GPUs, or [cpu] when there is none."""
    return _local_devices("gpu") or [_cpu()]


def resolve_device(spec):
    return defaults.resolve_device(spec, try_gpu, lambda d: d.platform != "cpu", _cpu, NAME)


def device_name(device):
    return "cpu" if device.platform == "cpu" else f"{device.platform}:{device.id}"


# ---- the model: pure functions of (params, state, tokens) ------------------------------


def one_hot(indices, depth, dtype="float32"):
    return jax.nn.one_hot(jnp.asarray(indices), depth, dtype=_dtype(dtype))


def _linear(x, w, b):
    """x @ w.T + b over x's last axis (w in PyTorch's (out, in) layout)."""
    return lax.dot_general(x, w, (((x.ndim - 1,), (1,)), ((), ())), precision=_HIGHEST) + b


def _cell(cfg, w_hh, b_hh):
    """One time step of a gated recurrence, (carry, x @ W_ih.T + b_ih) -> (carry, h), as
    PyTorch's cells compute it (gates in its order: GRU r, z, n; LSTM i, f, g, o). W_hh is
    transposed here, once, outside the scan (see jax_kernel._recur)."""
    w_t = w_hh.T

    def recurrent(h):
        return jnp.dot(h, w_t, precision=_HIGHEST) + b_hh

    if cfg.cell == "lstm":

        def lstm(carry, xw):
            h, c = carry
            i, f, g, o = jnp.split(xw + recurrent(h), 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        return lstm
    if cfg.cell == "gru":

        def gru(carry, xw):
            (h,) = carry
            xr, xz, xn = jnp.split(xw, 3, axis=-1)
            hr, hz, hn = jnp.split(recurrent(h), 3, axis=-1)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            n = jnp.tanh(xn + r * hn)
            h = n + z * (h - n)  # = (1 - z) * n + z * h, written as ATen's gru_cell does
            return (h,), h

        return gru
    raise ValueError(f"the vanilla RNN runs through jax_kernel, not a cell: {cfg.cell!r}")


def _forward(params, state, X, cfg):
    """Logits ((steps * batch, vocab), time-major, as the book's model) and the new state.

    `state` is a tuple of (layers * directions, batch, hidden) arrays: (h,) or (h, c).
    Each layer and direction is one `lax.scan` over time (the vanilla RNN's with its own
    backward, jax_kernel.py); the input projection of all steps is one matrix product
    before it.
    """
    dtype = params["linear.weight"].dtype
    layer_in = jax.nn.one_hot(X.T, cfg.vocab_size, dtype=dtype)  # (steps, batch, vocab)
    finals: List[list] = [[] for _ in state]
    outs: list = []
    for index, (_, suffix, (w_ih, w_hh, b_ih, b_hh)) in enumerate(rnn_weight_names(cfg)):
        reverse = suffix == "_reverse"  # reversed: ys stay in time order
        if cfg.cell == "rnn":  # both biases before the loop, as the PyTorch backend adds them
            xw = _linear(layer_in, params[w_ih], params[b_ih] + params[b_hh])
            ys, h_last = rnn_layer(xw, state[0][index], params[w_hh], cfg.activation == "relu", reverse)
            carry = (h_last,)
        else:
            xw = _linear(layer_in, params[w_ih], params[b_ih])
            carry = tuple(s[index] for s in state)
            carry, ys = lax.scan(_cell(cfg, params[w_hh], params[b_hh]), carry, xw, reverse=reverse)
        for acc, part in zip(finals, carry):
            acc.append(part)
        outs.append(ys)
        if len(outs) == cfg.num_directions:  # the layer is complete: it feeds the next
            layer_in, outs = (outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=-1)), []
    logits = _linear(layer_in.reshape(-1, layer_in.shape[-1]), params["linear.weight"], params["linear.bias"])
    return logits, tuple(jnp.stack(parts) for parts in finals)


def _mean_loss(params, state, X, Y, cfg):
    logits, state = _forward(params, state, X, cfg)
    y = Y.T.reshape(-1)  # time-major, as the logits
    log_p = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1)), state


def _loss_grads(params, state, X, Y, cfg):
    (loss, state), grads = jax.value_and_grad(_mean_loss, has_aux=True)(params, state, X, Y, cfg)
    return loss, state, grads


def _clip(grads, theta, cfg):
    """(norm, grads scaled to norm <= theta): the book's grad_clipping, norm = sqrt of the sum
    of squares (summed in canonical order); scale = min(1, theta / norm) is its
    `if norm > theta: grad *= theta / norm` without a branch."""
    norm = jnp.sqrt(sum(jnp.sum(grads[name] ** 2) for name in canonical_shapes(cfg)))
    scale = jnp.minimum(theta / norm, 1.0)
    return norm, {name: g * scale for name, g in grads.items()}


def _update(kind, params, grads, opt_state, lr):
    """SGD, or Adam as torch.optim.Adam computes it; returns (params, optimizer state)."""
    if kind == "sgd":
        return {k: p - lr * grads[k] for k, p in params.items()}, opt_state
    beta1, beta2, eps = _ADAM
    m, v, t = opt_state
    t = t + 1
    m = {k: beta1 * m[k] + (1 - beta1) * g for k, g in grads.items()}
    v = {k: beta2 * v[k] + (1 - beta2) * g * g for k, g in grads.items()}
    step, root = lr / (1 - beta1**t), jnp.sqrt(1 - beta2**t)
    params = {k: p - step * m[k] / (jnp.sqrt(v[k]) / root + eps) for k, p in params.items()}
    return params, (m, v, t)


# ---- the compiled programs: one per model config and shape -------------------------------


@partial(jax.jit, static_argnames=("cfg", "kind"), donate_argnums=(0, 1, 2))
def _train_step(params, opt_state, state, X, Y, clip, lr, cfg, kind):
    """Forward over all steps, mean loss, gradient, clip, update: one XLA program."""
    TRACES["train_step"] += 1
    loss, state, grads = _loss_grads(params, state, X, Y, cfg)
    norm, grads = _clip(grads, clip, cfg)
    params, opt_state = _update(kind, params, grads, opt_state, lr)
    return params, opt_state, state, loss * Y.size, norm


@partial(jax.jit, static_argnames=("cfg",), donate_argnums=(1,))
def _group_grads(params, state, X, Y, cfg):
    """A worker's half of a step: its rows' loss and gradient, flattened for the exchange."""
    TRACES["group_grads"] += 1
    loss, state, grads = _loss_grads(params, state, X, Y, cfg)
    return state, loss * Y.size, jnp.concatenate([grads[n].ravel() for n in canonical_shapes(cfg)])


@partial(jax.jit, static_argnames=("cfg", "kind"), donate_argnums=(0, 1))
def _group_update(params, opt_state, flat, clip, lr, cfg, kind):
    """The other half: clip the workers' mean gradient and update."""
    TRACES["group_update"] += 1
    grads, offset = {}, 0
    for name, shape in canonical_shapes(cfg).items():
        size = int(np.prod(shape))
        grads[name], offset = flat[offset : offset + size].reshape(shape), offset + size
    norm, grads = _clip(grads, clip, cfg)
    return _update(kind, params, grads, opt_state, lr) + (norm,)


@partial(jax.jit, static_argnames=("cfg",))
def _eval_step(params, state, X, Y, cfg):
    TRACES["eval_step"] += 1
    loss, state = _mean_loss(params, state, X, Y, cfg)
    return state, loss * Y.size


@partial(jax.jit, static_argnames=("cfg",))
def _forward_jit(params, state, X, cfg):
    TRACES["forward"] += 1
    return _forward(params, state, X, cfg)


@partial(jax.jit, static_argnames=("cfg", "num_chars"))
def _greedy(params, state, last, cfg, num_chars):
    """`num_chars` greedy steps, each the whole model on one character (as the book's
    predict_ch8), in one scan: no host round trip per character."""
    TRACES["greedy"] += 1

    def step(carry, _):
        state, x = carry
        logits, state = _forward(params, state, x.reshape(1, 1), cfg)
        x = jnp.argmax(logits[-1]).astype(last.dtype)
        return (state, x), x

    (state, _), ids = lax.scan(step, (state, last), None, length=num_chars)
    return ids, state


@partial(jax.jit, static_argnames=("cfg",))
def _loss_and_grads(params, state, X, Y, cfg):
    TRACES["loss_and_grads"] += 1
    loss, _, grads = _loss_grads(params, state, X, Y, cfg)
    return loss, grads


@partial(jax.jit, static_argnames=("cfg",))
def _clip_jit(grads, theta, cfg):
    return _clip(grads, theta, cfg)


# ---- the model object and the Protocol's calls -------------------------------------------


class RNNModel:
    """The book's RNN model as data: its config, its device and its parameters, a pytree
    {canonical name: array} in PyTorch's layout. Outputs have shape
    (num_steps * batch_size, vocab_size), time-major, as in the other backends. The values
    come from `set_weights` (rnnlm.model.weights.init_weights, drawn in NumPy)."""

    def __init__(self, cfg, device=None, dtype="float32") -> None:
        self.cfg = cfg
        self.dtype_name = dtype
        self.device = device if device is not None else _cpu()
        self.group: Optional[WorkerGroup] = None  # set by init_distributed
        self.params = {
            name: jnp.zeros(shape, _dtype(dtype), device=self.device) for name, shape in canonical_shapes(cfg).items()
        }
        self.grads: Optional[Dict[str, Any]] = None  # after loss_and_grads, as after backward


def begin_state(model, batch_size):
    shape = defaults.state_shape(model.cfg, batch_size)
    return tuple(
        jnp.zeros(shape, _dtype(model.dtype_name), device=model.device) for _ in range(defaults.state_count(model.cfg))
    )


def detach_state(state):
    """The state itself: JAX arrays carry no graph to cut. `train_step` consumes (donates)
    the state it is given; the loop goes on with the one it returns."""
    return state


def _tokens(model, array):
    return jax.device_put(np.asarray(array, dtype=np.int32), model.device)


# ---- weights in the canonical layout -----------------------------------------------------


def get_weights(model):
    return {name: np.array(p) for name, p in model.params.items()}


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    dtype = _dtype(model.dtype_name)
    model.params = {
        name: jax.device_put(np.asarray(weights[name], dtype=dtype), model.device)
        for name in canonical_shapes(model.cfg)
    }
    model.grads = None


# ---- training ----------------------------------------------------------------------------


def grad_clipping(model, theta):
    """Scale the model's last gradients so their global L2 norm is at most theta; return the
    norm before (a device scalar), as the other backends do after a backward pass."""
    norm, model.grads = _clip_jit(model.grads, float(theta), model.cfg)
    return norm


@dataclass
class _Optimizer:
    """What `make_optimizer` returns and `train_step` updates: the rule and its state."""

    kind: str
    lr: float
    state: Any = field(default=())  # () for SGD; (m, v, step) for Adam


def make_optimizer(model, lr, kind="sgd"):
    """SGD (the book's) or Adam (what `rnnlm compress --online` learns with)."""
    if kind not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {kind!r}")
    state: Any = ()
    if kind == "adam":
        dtype = _dtype(model.dtype_name)
        zeros = lambda: {k: jnp.zeros_like(p) for k, p in model.params.items()}  # noqa: E731
        state = (zeros(), zeros(), jnp.zeros((), dtype, device=model.device))
    return _Optimizer(kind, float(lr), state)


def framework_version():
    return f"{jax.__version__} (jaxlib {jax.lib.__version__})"


def environment():
    """What `rnnlm doctor` shows: the platforms and devices XLA sees, x64, the CPU pool's flags."""
    return {
        "devices": [str(d) for d in jax.devices()],
        "x64": bool(jax.config.read("jax_enable_x64")),
        "threads": os.environ.get("XLA_FLAGS", "XLA's default CPU thread pool"),
    }


# ---- data parallelism (jax.distributed: gloo collectives on CPU) ---------------------------


@dataclass
class WorkerGroup:
    """This process's place in the jax.distributed group."""

    rank: int
    world_size: int


def init_distributed(model):
    """Join the group the JAX_* variables describe (done already when the device was
    resolved: JAX must join before it computes). Returns (rank, world_size)."""
    _join_requested_group()
    if not jax_runtime.GROUP.joined:
        raise UsageError(
            "the jax backend was asked to join a group without JAX_COORDINATOR_ADDRESS and JAX_NUM_PROCESSES > 1 set"
        )
    model.group = WorkerGroup(jax.process_index(), jax.process_count())
    return model.group.rank, model.group.world_size


def finish_distributed(model):
    """Leave the group together: wait for every worker, then shut the client down."""
    if model.group is not None:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("rnnlm: finished")
        model.group = None
        jax.distributed.shutdown()


def _gather(values):
    """Every worker's NumPy array `values`, stacked in rank order (the same on every rank).

    A peer that died or hung up surfaces from gloo as a ValueError or XlaRuntimeError; it
    becomes the RuntimeError the core reports as a failed group (the launcher names who)."""
    from jax.experimental import multihost_utils

    try:
        return np.asarray(multihost_utils.process_allgather(values))
    except (ValueError, RuntimeError) as exc:
        raise RuntimeError(f"a JAX collective failed: {(str(exc).splitlines() or [''])[0]}") from exc


def all_reduce_sum(model, values):
    """Sum each float over the group's workers (the values themselves when alone). The
    float64 values travel as their bit patterns (int32 pairs), exact whether or not x64 is
    on, and are added in rank order: every worker gets the same sums."""
    values = np.array([float(v) for v in values], dtype=np.float64)
    if model.group is None:
        return values.tolist()
    gathered = _gather(values.view(np.int32)).view(np.float64)
    return gathered.sum(axis=0).tolist()


def train_step(model, optimizer, state, X, Y, clip):
    """Forward, backward, clip, update in one compiled step. Returns (new state, summed loss,
    gradient norm before clipping), both on the device. In a group, the workers' gradients are
    averaged before clipping, so the
    step is the one a single process takes over the whole minibatch."""
    X, Y = _tokens(model, X), _tokens(model, Y)
    if model.group is None:
        model.params, optimizer.state, state, loss_sum, norm = _train_step(
            model.params, optimizer.state, state, X, Y, float(clip), optimizer.lr, cfg=model.cfg, kind=optimizer.kind
        )
    else:
        state, loss_sum, flat = _group_grads(model.params, state, X, Y, cfg=model.cfg)
        mean = _gather(np.asarray(flat)).sum(axis=0) / model.group.world_size
        model.params, optimizer.state, norm = _group_update(
            model.params,
            optimizer.state,
            jax.device_put(mean, model.device),
            float(clip),
            optimizer.lr,
            cfg=model.cfg,
            kind=optimizer.kind,
        )
    jax_runtime.LAST_DISPATCHED[:] = [loss_sum]
    return state, loss_sum, norm


def eval_step(model, state, X, Y):
    state, loss_sum = _eval_step(model.params, state, _tokens(model, X), _tokens(model, Y), cfg=model.cfg)
    jax_runtime.LAST_DISPATCHED[:] = [loss_sum]
    return state, loss_sum


def forward(model, X, state):
    logits, state = _forward_jit(model.params, state, _tokens(model, X), cfg=model.cfg)
    return np.asarray(logits), state


def greedy_continue(model, state, last, num_chars):
    """`num_chars` greedy token ids after token `last`. Returns (ids as NumPy, state).

    The whole loop is one compiled scan (one per length), the chosen id fed back on the
    device and read once at the end; each step is the model on one character, as the
    per-character loop computes it."""
    ids, state = _greedy(
        model.params, state, jax.device_put(np.int32(last), model.device), cfg=model.cfg, num_chars=int(num_chars)
    )
    return np.asarray(ids).astype(np.int64), state


def loss_and_grads(model, state, X, Y):
    """The mean loss and its gradient for every weight (canonical names), without updating.

    The gradients stay on the model afterwards, as after a backward pass.
    """
    loss, model.grads = _loss_and_grads(model.params, state, _tokens(model, X), _tokens(model, Y), cfg=model.cfg)
    return float(loss), {name: np.array(g) for name, g in model.grads.items()}
