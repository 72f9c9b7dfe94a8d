"""MXNet (Gluon) backend: the book's concise `RNNModel`, Gluon's `rnn.RNN`/`GRU`/`LSTM` computation.

Mirrors `torch_impl` name for name. Two differences from the book's MXNet code make it the
same model as the PyTorch one: the vanilla RNN uses tanh (Gluon's `rnn.RNN` defaults to
ReLU), and the weights are PyTorch's default initialization drawn in NumPy
(`rnnlm.model.weights.init_weights`), loaded through the canonical layout. MXNet's fused RNN
operator stacks gates in PyTorch's order (GRU: reset, update, new; LSTM: input, forget,
cell, output), so the mapping below only renames: `rnn.weight_ih_l{k}` <-> layer k's
`l0_i2h_weight`, `..._reverse` <-> `r0_...`, `linear.*` <-> the Dense layer's weights.

Layers are stacked as single-layer RNN operators rather than one multi-layer operator:
the same computation, but MXNet 1.9's native (float64) multi-layer backward returns wrong
gradients for the lower layers (apache/mxnet#17898 and kin; measured here: 1e-2 off).
Each layer is Gluon's `rnn.RNN` forward on one flat parameter (`_RNNLayer`), where
`rnn.RNN` keeps four and concatenates them every forward.
"""

import ctypes
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


import numpy as np

from . import mxnet_runtime
from .common import defaults, exact_sum
from .common.defaults import device_name  # noqa: F401 (part of the interface)
from .mxnet_engine import group_requested, restart_note  # noqa: F401 (part of the interface)
from rnnlm.errors import UsageError
from rnnlm.model.weights import canonical_shapes, check_weights, rnn_weight_names

mx = mxnet_runtime.load()  # np.bool and the operators' thread count, before mxnet loads
from mxnet import autograd, gluon  # noqa: E402
from mxnet.gluon import nn  # noqa: E402

NAME = "mxnet"
_LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


def set_num_threads(n):
    """Ask for n OpenMP threads from now on: this reaches what runs on the calling thread,
    not the engine's operators, whose count is fixed when MXNet loads (see above)."""
    mx.base._LIB.MXSetNumOMPThreads(ctypes.c_int(n))


def num_threads():
    """The count the operators compute with: the one MXNet loaded with (mxnet_runtime)."""
    return mxnet_runtime.LOADED_THREADS


def synchronize():
    """Wait for every operation the engine has queued (it computes asynchronously)."""
    mx.nd.waitall()


# ---- devices ---------------------------------------------------------------------------


def try_gpu(i=0):
    """GPU i if it exists, else the CPU (as d2l's `try_gpu`)."""
    if mx.context.num_gpus() >= i + 1:
        return mx.gpu(i)
    return mx.cpu()


def try_all_gpus():
    """All GPUs, or [cpu()] when there is none."""
    gpus = [mx.gpu(i) for i in range(mx.context.num_gpus())]
    return gpus if gpus else [mx.cpu()]


def resolve_device(spec):
    return defaults.resolve_device(spec, try_gpu, lambda d: d.device_type == "gpu", mx.cpu, NAME)


# ---- the model -------------------------------------------------------------------------


def one_hot(indices, depth, dtype="float32"):
    """The book's `npx.one_hot(inputs.T, vocab_size)`, of an NDArray or a NumPy array."""
    return mx.nd.one_hot(
        mx.nd.array(indices, dtype="int64") if isinstance(indices, np.ndarray) else indices, depth, dtype=dtype
    )


class RNNModel(gluon.HybridBlock):
    """The book's RNN model: one-hot input, a recurrent layer, a dense output layer.

    The output layer reads num_hiddens * num_directions features. Outputs have shape
    (num_steps * batch_size, vocab_size), time-major, as in the PyTorch backend.
    """

    def __init__(self, cfg, device=None, dtype="float32", **kwargs) -> None:
        super().__init__(**kwargs)
        self.cfg = cfg
        self.device = device or mx.cpu()
        self.dtype_name = dtype
        self.group: Optional[WorkerGroup] = None  # set by init_distributed
        with self.name_scope():
            self.layers = []
            for layer in range(cfg.num_layers):
                block = _RNNLayer(cfg, layer, dtype)
                self.register_child(block, f"rnn{layer}")
                self.layers.append(block)
            self.linear = nn.Dense(cfg.vocab_size, in_units=cfg.num_hiddens * cfg.num_directions, flatten=False)
        self.initialize(ctx=self.device)
        self.cast(dtype)
        self.hybridize(static_alloc=True)
        self.canonical = _param_map(self)  # built once
        self.owned = [layer.flat for layer in self.layers] + [self.linear.weight, self.linear.bias]  # every parameter

    def hybrid_forward(self, F, inputs, state):
        Y = F.one_hot(F.transpose(inputs), self.cfg.vocab_size, dtype=self.dtype_name)
        d = self.cfg.num_directions
        new_state: List[List[Any]] = [[] for _ in state]
        for layer, block in enumerate(self.layers):
            # rows layer*d .. layer*d+d-1 of each state tensor belong to this layer
            own = [F.slice_axis(s, axis=0, begin=layer * d, end=(layer + 1) * d) for s in state]
            Y, *own = block(Y, *own)
            for acc, s in zip(new_state, own):
                acc.append(s)
        state = [F.concat(*parts, dim=0) if len(parts) > 1 else parts[0] for parts in new_state]
        return F.reshape(self.linear(Y), shape=(-3, 0)), state  # (T, N, V) -> (T*N, V)


class _RNNLayer(gluon.HybridBlock):
    """One layer, one or two directions: MXNet's RNN operator on one flat parameter in the
    operator's own layout (each direction's W_ih and W_hh, then each direction's b_ih and
    b_hh), what Gluon's `rnn.RNN` computes. `rnn.RNN` keeps four parameters a direction and
    concatenates them every forward, and splits the gradient every backward: 0.57 ms of the
    book's 5 ms step on a 2-core EPYC."""

    def __init__(self, cfg, layer, dtype_name, **kwargs):
        super().__init__(**kwargs)
        shapes = canonical_shapes(cfg)
        groups = [names for at, _, names in rnn_weight_names(cfg) if at == layer]
        order = [n for g in groups for n in g[:2]] + [n for g in groups for n in g[2:]]
        self.pieces: Dict[str, Tuple[int, Tuple[int, ...]]] = {}  # canonical name -> (offset, shape)
        size = 0
        for name in order:
            self.pieces[name] = (size, shapes[name])
            size += int(np.prod(shapes[name]))
        self.flat = self.params.get("flat", shape=(size,), init=mx.init.Zero(), dtype=dtype_name)
        self.options = dict(
            state_size=cfg.num_hiddens,
            num_layers=1,
            bidirectional=cfg.bidirectional,
            mode=_MODES.get(cfg.cell) or f"rnn_{cfg.activation}",
            state_outputs=True,
        )

    def hybrid_forward(self, F, x, *states, flat):
        out = F.RNN(x, flat, *states, **self.options)
        return [out[i] for i in range(1 + len(states))]  # outputs, then the new state's parts


_MODES = {"gru": "gru", "lstm": "lstm"}  # the RNN operator's names; the vanilla one is rnn_<activation>


def begin_state(model, batch_size):
    shape = defaults.state_shape(model.cfg, batch_size)
    return [
        mx.nd.zeros(shape, ctx=model.device, dtype=model.dtype_name) for _ in range(defaults.state_count(model.cfg))
    ]


def detach_state(state):
    return [s.detach() for s in state]


def state_to_numpy(state):
    return [s.asnumpy() for s in state]


def _array(model, array):
    """A batch (token ids, which travel as floats: one_hot and pick take float indices,
    exact below 2**24) as an NDArray on the model's device, without waiting.

    mx.nd.array copies through the engine and waits for every operation queued before it:
    twice a step, so no step overlapped the last (1.5 ms of waiting a call on the book's
    model). Here a fresh host copy is lent to MXNet (DLPack). MXNet calls its deleter, a
    Python callback, on whichever thread drops the last reference: `_LENT` keeps each copy
    until the engine has finished with it (`_release_lent`), so that it is the caller, not
    an engine worker waiting for the GIL, that drops it.
    """
    host = mx.nd.from_numpy(np.array(array, dtype=model.dtype_name, order="C"), zero_copy=True)
    _LENT.append(host)
    if len(_LENT) > _MAX_LENT:
        _release_lent()
    return host if model.device == mx.cpu() else host.as_in_context(model.device)


_LENT: List[Any] = []
_MAX_LENT = 4096  # ~2,000 steps between syncs at most (an epoch of the book's model syncs after ~150)


def _release_lent():
    mx.nd.waitall()
    _LENT.clear()


# ---- weights in the canonical layout -----------------------------------------------------


def _param_map(model):
    """{canonical name: (gluon Parameter, offset, shape)}, offset None for a whole parameter
    (cached as `model.canonical`)."""
    out: Dict[str, Tuple[Any, Optional[int], Tuple[int, ...]]] = {}
    for layer in model.layers:
        for name, (offset, shape) in layer.pieces.items():
            out[name] = (layer.flat, offset, shape)
    out["linear.weight"] = (model.linear.weight, None, model.linear.weight.shape)
    out["linear.bias"] = (model.linear.bias, None, model.linear.bias.shape)
    return out


def _canonical_numpy(model, array_of):
    """{canonical name: NumPy copy} of what `array_of(parameter)` gives (its data or grad)."""
    whole = {id(p): array_of(p).asnumpy() for p in model.owned}
    out = {}
    for name, (p, offset, shape) in model.canonical.items():
        a = whole[id(p)]
        out[name] = (a if offset is None else a[offset : offset + int(np.prod(shape))]).reshape(shape).copy()
    return out


def get_weights(model):
    return _canonical_numpy(model, lambda p: p.data(model.device))


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    parts: Dict[int, List[np.ndarray]] = {id(p): [] for p in model.owned}
    for name, (p, offset, _) in model.canonical.items():  # a layer's pieces come in its flat order
        w = np.asarray(weights[name])
        parts[id(p)].append(w if offset is None else w.reshape(-1))
    for p in model.owned:
        p.set_data(mx.nd.array(np.concatenate(parts[id(p)]), ctx=model.device, dtype=model.dtype_name))


# ---- training ----------------------------------------------------------------------------


def _grads(model):
    return [p.grad(model.device) for p in model.owned]


def grad_clipping(model, theta):
    """Scale all gradients so their global L2 norm is at most theta; return the norm before.

    Computed on the device (no host sync): scale = min(1, theta / norm) equals the book's
    `if norm > theta: grad *= theta / norm`.
    """
    grads = _grads(model)
    if model.dtype_name == "float32":  # one operator (multi_sum_sq sums in float32 only)
        norm = mx.nd.sqrt(mx.nd.sum(mx.nd.multi_sum_sq(*grads, num_arrays=len(grads))))
    else:
        norm = mx.nd.sqrt(mx.nd.add_n(*[mx.nd.sum(g * g) for g in grads]))
    scale = mx.nd.minimum(theta / norm, 1.0)
    for g in grads:
        mx.nd.broadcast_mul(g, scale, out=g)
    return norm


def make_optimizer(model, lr, kind="sgd"):
    """SGD (the book's) or Adam (what `rnnlm compress --online` learns with)."""
    return gluon.Trainer(model.collect_params(), kind, {"learning_rate": lr})


def framework_version():
    return mx.__version__


def environment():
    """What `rnnlm doctor` shows: the OpenMP count, the build's BLAS/MKLDNN/CUDA features, GPUs."""
    enabled = sorted(name for name, feature in mx.runtime.Features().items() if feature.enabled)
    return {
        "threads": f"{mxnet_runtime.LOADED_THREADS} (fixed when MXNet loaded)",
        "features": [
            f for f in enabled if f.startswith(("BLAS", "MKLDNN", "CUDA", "CUDNN", "NCCL", "OPENMP", "LAPACK", "DIST"))
        ],
        "gpus": [f"gpu({i})" for i in range(mx.context.num_gpus())],
    }


# ---- data parallelism (the ps-lite parameter server, kvstore dist_sync) -------------------
#
# Workers push to the servers, which sum, and pull the sum back; each worker then averages,
# clips and updates locally (what update_on_kvstore=False does in gluon.Trainer, written out
# so that float64 survives: ps-lite carries float32 only, see rnnlm.exact_sum).

_KEYS = {"grads": 0, "metrics": 2}  # each purpose uses two keys: scales, then values


@dataclass
class WorkerGroup:
    """The dist_sync kvstore and the shapes of the keys initialized on it."""

    kv: Any
    shapes: Dict[int, Tuple[int, ...]] = field(default_factory=dict)


def init_distributed(model):
    """Join the parameter-server group the DMLC_* variables describe. Returns (rank, world_size)."""
    kv = mx.kv.create("dist_sync")
    if kv.num_workers > exact_sum.MAX_WORKERS:
        raise UsageError(f"at most {exact_sum.MAX_WORKERS} MXNet workers, got {kv.num_workers}")
    model.group = WorkerGroup(kv)
    return kv.rank, kv.num_workers


def finish_distributed(model):
    """Leave the group together (the servers stop once every worker has finished)."""
    if model.group is not None:
        model.group.kv._barrier()
        model.group = None


def _kv_sum32(model, key, values):
    """Sum a float32 NumPy array over all workers through the servers."""
    kv, shapes = model.group.kv, model.group.shapes
    if key not in shapes:
        kv.init(key, mx.nd.zeros(values.shape, dtype="float32"))
        shapes[key] = values.shape
    kv.push(key, mx.nd.array(values, dtype="float32"))
    out = mx.nd.zeros(values.shape, dtype="float32")
    kv.pull(key, out=out)
    return out.asnumpy()


def _kv_sum(model, purpose, segments):
    """Sum each float NumPy array in `segments` over all workers; float64 stays exact."""
    key = _KEYS[purpose]
    if all(seg.dtype == np.float32 for seg in segments):
        flat = _kv_sum32(model, key + 1, np.concatenate([seg.ravel() for seg in segments]))
        return exact_sum.split(flat, segments)
    scales = exact_sum.scales_from(_kv_sum32(model, key, exact_sum.peaks(segments)))
    summed = _kv_sum32(model, key + 1, exact_sum.encode(segments, scales))
    return exact_sum.decode(summed, segments, scales)


def all_reduce_sum(model, values):
    """Sum each float over the group's workers (the values themselves when alone)."""
    if model.group is None:
        return defaults.alone_sum(values)
    return _kv_sum(model, "metrics", [np.array([float(v) for v in values])])[0].tolist()


def _average_grads_over_workers(model):
    """Replace every gradient by its mean over the workers (a no-op when alone)."""
    if model.group is None or model.group.kv.num_workers == 1:
        return
    grads, workers = _grads(model), model.group.kv.num_workers
    sums = _kv_sum(model, "grads", [g.asnumpy() for g in grads])
    for g, total in zip(grads, sums):
        g[:] = mx.nd.array(total / workers, ctx=model.device, dtype=model.dtype_name)


def _mean_loss(model, state, X, Y):
    y_hat, state = model(_array(model, X), state)
    y = _array(model, np.ascontiguousarray(Y.T).reshape(-1))  # time-major, as the outputs
    return _LOSS(y_hat, y).mean(), state


def train_step(model, optimizer, state, X, Y, clip):
    """Forward, backward, clip, SGD step. Returns (new state, summed loss, gradient norm
    before clipping), the last two on the device."""
    with autograd.record():
        loss, state = _mean_loss(model, state, X, Y)
    loss.backward()
    _average_grads_over_workers(model)  # clipping sees the whole minibatch's gradient
    norm = grad_clipping(model, clip)
    optimizer.step(1)  # the loss is already a mean
    return state, loss * Y.size, norm


def eval_step(model, state, X, Y):
    loss, state = _mean_loss(model, state, X, Y)
    return state, loss * Y.size


def forward(model, X, state):
    y_hat, state = model(_array(model, X), state)
    return y_hat.asnumpy(), state


def greedy_continue(model, state, last, num_chars):
    """`num_chars` greedy token ids after token `last`. Returns (ids as NumPy, state).

    Batch-1 generation is all per-operation overhead (each imperative operation costs
    20-40 us here, its work ~1 us), so a unidirectional model steps in blocks of up to
    GREEDY_BLOCK characters, each block one cached graph (`_GreedyBlock`) of the RNN operator
    on the model's own weights (one op a layer), the dense layer and the argmax: the same
    operators as the Gluon block, the same bits. The ids are read back once, at the end.
    """
    cfg = model.cfg
    if cfg.bidirectional:  # the reverse direction makes a step a whole-model call anyway
        return _greedy_by_block(model, state, last, num_chars)
    flat = [layer.flat.data(model.device) for layer in model.layers]  # the operator's layout
    w_out, b_out = model.linear.weight.data(model.device), model.linear.bias.data(model.device)
    per_layer = [s[layer : layer + 1] for layer in range(cfg.num_layers) for s in state]
    x, out, done = _array(model, np.array([last])), [], 0
    while done < num_chars:
        size = min(GREEDY_BLOCK, 1 << ((num_chars - done).bit_length() - 1))  # powers of two: few graphs
        ids, *per_layer = _greedy_block(model, size)(x, w_out, b_out, *flat, *per_layer)
        out.append(ids)
        x, done = ids[size - 1 :], done + size
    ids = mx.nd.concat(*out, dim=0).asnumpy() if out else np.zeros(0)
    parts = len(state)
    state = [mx.nd.concat(*per_layer[i::parts], dim=0) for i in range(parts)]
    return ids.astype(np.int64), state


GREEDY_BLOCK = 32  # characters a cached graph unrolls: ~6 operators each, built once a size


def _greedy_block(model, size):
    """The model's `_GreedyBlock` of `size` steps, built and hybridized on first use."""
    blocks = model.__dict__.setdefault("_greedy_blocks", {})
    if size not in blocks:
        blocks[size] = _GreedyBlock(model.cfg, size, model.dtype_name)
        blocks[size].hybridize(static_alloc=True, static_shape=True)
    return blocks[size]


class _GreedyBlock(gluon.HybridBlock):
    """`size` greedy steps: (x (1,), w_out, b_out, one flat weight vector a layer, the
    state's parts layer by layer) -> (ids (size,), the new parts)."""

    def __init__(self, cfg, size, dtype_name):
        super().__init__()
        self.cfg, self.size, self.dtype_name = cfg, size, dtype_name
        self.mode = f"rnn_{cfg.activation}" if cfg.cell == "rnn" else cfg.cell  # the RNN operator's names

    def hybrid_forward(self, F, x, w_out, b_out, *rest):
        cfg = self.cfg
        flat, parts = rest[: cfg.num_layers], list(rest[cfg.num_layers :])
        per = len(parts) // cfg.num_layers  # state parts a layer: 1, or 2 for an LSTM
        ids = []
        for _ in range(self.size):
            inp = F.reshape(F.one_hot(x, cfg.vocab_size, dtype=self.dtype_name), (1, 1, -1))
            for layer, params in enumerate(flat):
                own = parts[layer * per : (layer + 1) * per]
                res = F.RNN(
                    inp, params, *own, state_size=cfg.num_hiddens, num_layers=1, mode=self.mode, state_outputs=True
                )
                inp = res[0]
                parts[layer * per : (layer + 1) * per] = [res[i] for i in range(1, per + 1)]
            logits = F.FullyConnected(F.reshape(inp, (1, -1)), w_out, b_out, num_hidden=cfg.vocab_size)
            x = F.argmax(logits, axis=1)
            ids.append(x)
        return (F.concat(*ids, dim=0), *parts)


def _greedy_by_block(model, state, last, num_chars):
    x = _array(model, np.array([[last]]))
    out = []
    for _ in range(num_chars):
        y_hat, state = model(x, state)
        x = mx.nd.argmax(y_hat, axis=1).reshape((1, 1))
        out.append(x)
    ids = mx.nd.concat(*out, dim=0).asnumpy().reshape(-1) if out else np.zeros(0)
    return ids.astype(np.int64), state


def loss_and_grads(model, state, X, Y):
    """The mean loss and its gradient for every weight (canonical names), without updating.

    The gradients stay on the model afterwards, as after a backward pass.
    """
    with autograd.record():
        loss, _ = _mean_loss(model, state, X, Y)
    loss.backward()
    return float(loss.asscalar()), _canonical_numpy(model, lambda p: p.grad(model.device))


def to_float(x):
    value = float(x.asscalar())
    if _LENT:  # the loop reads the host once an epoch: the batches lent before are done with, or nearly
        _release_lent()
    return value
