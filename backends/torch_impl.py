"""PyTorch backend: the book's concise `RNNModel` on `nn.RNN`/`nn.GRU`/`nn.LSTM`.

Weights use PyTorch's own layout, which is the canonical one, so `get_weights` and
`set_weights` copy names one to one. Initial values come from `rnnlm.model.weights.init_weights`
(PyTorch's default initialization, drawn in NumPy), never from torch's RNG.
"""

import gc
import os
import re
from dataclasses import dataclass
from typing import Any, List, Optional

import numpy as np

from .torch_runtime import torch  # imported with passive OpenMP waiting (see torch_runtime)
from torch import nn
from torch.nn import functional as F

from .common import defaults
from .common.defaults import device_name, to_float  # noqa: F401 (part of the interface)
from .torch_kernel import FusedRNNLayer, OutputLayer, loss_and_grads_without_autograd, runs_without_autograd
from .torch_kernel import tanh_ as kernel_tanh_
from .torch_engine import group_requested, restart_note  # noqa: F401 (part of the interface)
from rnnlm.model.weights import check_weights, rnn_weight_names

NAME = "torch"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}
_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def set_num_threads(n):
    """Compute with n threads from now on (the run chooses n once, rnnlm.threads)."""
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def num_threads():
    """The count torch computes with now."""
    return torch.get_num_threads()


def synchronize():
    """Wait for queued work: nothing on the CPU, where torch computes as it is asked."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


# ---- devices ---------------------------------------------------------------------------


def try_gpu(i=0):
    """GPU i if it exists, else the CPU (as d2l's `try_gpu`)."""
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def try_all_gpus():
    """All GPUs, or [cpu] when there is none."""
    gpus = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return gpus if gpus else [torch.device("cpu")]


def resolve_device(spec):
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)  # torchrun: one GPU a worker
    return defaults.resolve_device(
        spec, lambda: try_gpu(local_rank), lambda d: d.type == "cuda", lambda: torch.device("cpu"), NAME
    )


# ---- the model -------------------------------------------------------------------------


def one_hot(indices, depth, dtype="float32"):
    """The book's `F.one_hot(X.T.long(), vocab_size)`, of a tensor or a NumPy array."""
    return F.one_hot(torch.as_tensor(indices, dtype=torch.long), depth).to(_DTYPES[dtype])


class RNNModel(nn.Module):
    """The book's RNN model: one-hot input, a recurrent layer, a linear output layer.

    The output layer reads num_hiddens * num_directions features (the seed's PyTorch
    version). Outputs have shape (num_steps * batch_size, vocab_size), time-major.
    """

    def __init__(self, cfg, device=None, dtype="float32", fused=True) -> None:
        super().__init__()
        # the vanilla RNN runs through the fused kernel (same math, faster); fused=False
        # keeps nn.RNN's own path, which tests compare it with
        self.fused = fused and cfg.cell == "rnn"
        self.cfg = cfg
        self.dtype_name = dtype
        kwargs = {"nonlinearity": cfg.activation} if cfg.cell == "rnn" else {}
        self.rnn = _CELLS[cfg.cell](
            cfg.vocab_size, cfg.num_hiddens, cfg.num_layers, bidirectional=cfg.bidirectional, **kwargs
        )
        self.linear = nn.Linear(cfg.num_hiddens * cfg.num_directions, cfg.vocab_size)
        self.device = device or torch.device("cpu")
        self.group: Optional[WorkerGroup] = None  # set by init_distributed
        self.to(device=self.device, dtype=_DTYPES[dtype])

    def forward(self, inputs, state):
        if not self.fused:
            Y, state = self.rnn(one_hot(inputs.T, self.cfg.vocab_size, self.dtype_name), state)
            return self.linear(Y.reshape(-1, Y.shape[-1])), state
        Y, state = self._fused_rnn(inputs.T, state)
        return OutputLayer.apply(Y.reshape(-1, Y.shape[-1]), self.linear.weight, self.linear.bias), state

    def _fused_rnn(self, X, state):
        """The vanilla RNN through FusedRNNLayer, on nn.RNN's own parameters."""
        cfg, layer_in = self.cfg, None  # type: Any, Any
        finals: List[torch.Tensor] = []
        outs: List[torch.Tensor] = []
        for layer, suffix, names in rnn_weight_names(cfg):
            w_ih, w_hh, b_ih, b_hh = (getattr(self.rnn, n.split(".", 1)[1]) for n in names)
            if layer == 0:
                # one_hot(X) @ w_ih.T + biases, as a gather from a (V, H) table holding the
                # biases already: the same sums, done once per character instead of per token
                xw = F.embedding(X, (w_ih.t() + (b_ih + b_hh)).contiguous())  # rows gathered whole
            else:
                xw = F.linear(layer_in, w_ih, b_ih + b_hh)
            reverse = suffix == "_reverse"
            ys, h_last = FusedRNNLayer.apply(
                xw.flip(0) if reverse else xw, state[len(finals)], w_hh, cfg.activation == "relu"
            )
            finals.append(h_last)
            outs.append(ys.flip(0) if reverse else ys)
            if len(outs) == cfg.num_directions:  # the layer is complete: it feeds the next
                layer_in, outs = (outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)), []
        return layer_in, torch.stack(finals)


def begin_state(model, batch_size):
    cfg = model.cfg
    shape = defaults.state_shape(cfg, batch_size)
    zeros = lambda: torch.zeros(shape, device=model.device, dtype=_DTYPES[model.dtype_name])  # noqa: E731
    return (zeros(), zeros()) if cfg.cell == "lstm" else zeros()


def detach_state(state):
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def state_to_numpy(state):
    parts = state if isinstance(state, tuple) else (state,)
    return [s.detach().cpu().numpy() for s in parts]


def _tensor(model, array):
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.long, device=model.device)


# ---- weights in the canonical layout -----------------------------------------------------


def get_weights(model):
    return {name: p.detach().cpu().numpy().copy() for name, p in model.state_dict().items()}


def set_weights(model, weights):
    check_weights(model.cfg, weights)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            p.copy_(torch.as_tensor(np.asarray(weights[name])))


# ---- training ----------------------------------------------------------------------------


def grad_clipping(model, theta):
    """Scale all gradients so their global L2 norm is at most theta; return the norm before.

    Computed on the device (no host sync): scale = min(1, theta / norm) equals the book's
    `if norm > theta: grad *= theta / norm`.
    """
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))  # two fused operations
    scale = torch.clamp(theta / norm, max=1.0)
    torch._foreach_mul_(grads, scale)
    return norm


def make_optimizer(model, lr, kind="sgd"):
    """SGD (the book's) or Adam (what `rnnlm compress --online` learns with)."""
    if kind not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {kind!r}")
    return (_Adam if kind == "adam" else _SGD)(list(model.parameters()), lr)


class _SGD:
    """torch.optim.SGD's CPU step (no momentum, no weight decay), the same operation on each
    parameter, without torch.optim: its first optimizer imports torch._dynamo (2 s a process,
    most of `compress`'s start-up). tests/test_backend_contract.py checks the bits match."""

    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        stepped = [p for p in self.params if p.grad is not None]
        # one call for all: on the CPU the foreach op is add_ on each tensor, the same bits
        torch._foreach_add_(stepped, [p.grad for p in stepped], alpha=-self.lr)


class _Adam(_SGD):
    """torch.optim.Adam's single-tensor CPU step (betas 0.9, 0.999, eps 1e-8), operation for
    operation, for the same reason."""

    betas, eps = (0.9, 0.999), 1e-8

    def __init__(self, params, lr):
        super().__init__(params, lr)
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]

    @torch.no_grad()
    def step(self):
        (beta1, beta2), self.steps = self.betas, self.steps + 1
        step_size = self.lr / (1 - beta1**self.steps)
        bias_correction2_sqrt = (1 - beta2**self.steps) ** 0.5
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            if p.grad is None:
                continue
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)


def framework_version():
    return torch.__version__


def environment():
    """What `rnnlm doctor` shows: threads, the BLAS and oneDNN torch was built with, CUDA."""
    shown = torch.__config__.show()
    blas = re.search(r"BLAS_INFO=(\w+)", shown)
    onednn = re.search(r"(?:MKL-DNN|oneDNN) (v[\w.]+)", shown)
    return {
        "threads": torch.get_num_threads(),
        "blas": blas and blas.group(1),
        "onednn": onednn and onednn.group(1),
        "cuda_build": torch.version.cuda,
        "cuda_available": bool(torch.cuda.is_available()),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
    }


# ---- data parallelism (torch.distributed: gloo on CPU, NCCL on CUDA) ---------------------


@dataclass
class WorkerGroup:
    """The model wrapped in DistributedDataParallel; held outside the module's tree so the
    canonical weight names stay as they are."""

    ddp: Any


def init_distributed(model):
    """Join the group torchrun describes and wrap `model` in DistributedDataParallel, which
    averages gradients over workers during backward. Returns (rank, world_size)."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("nccl" if model.device.type == "cuda" else "gloo")
    model.group = WorkerGroup(
        DistributedDataParallel(model, device_ids=[model.device] if model.device.type == "cuda" else None)
    )
    return dist.get_rank(), dist.get_world_size()


def finish_distributed(model):
    """Leave the group together: a group left to the interpreter's teardown while a peer
    still talks can abort ("terminate called without an active exception")."""
    if model.group is not None:
        import torch.distributed as dist

        dist.barrier()
        model.group = None  # the reducer goes before its process group
        dist.destroy_process_group()
        gc.collect()  # free the gloo group (and its threads) now, not during interpreter teardown


def all_reduce_sum(model, values):
    """Sum each float over the group's workers (the values themselves when alone)."""
    if model.group is None:
        return defaults.alone_sum(values)
    import torch.distributed as dist

    t = torch.tensor(
        [float(v) for v in values], dtype=torch.float64, device=model.device if model.device.type == "cuda" else "cpu"
    )
    dist.all_reduce(t)
    return t.tolist()


def _mean_loss(model, state, X, Y):
    y_hat, state = (model if model.group is None else model.group.ddp)(_tensor(model, X), state)
    y = _tensor(model, Y).T.reshape(-1)  # time-major, as the outputs
    return F.cross_entropy(y_hat, y), state


def _backward(model, state, X, Y):
    """(mean loss, new state), with every parameter's gradient written (not added to): the
    book's model written out (torch_kernel.loss_and_grads_without_autograd); other models through autograd."""
    if runs_without_autograd(model):
        return loss_and_grads_without_autograd(model, state, _tensor(model, X), _tensor(model, Y).T.reshape(-1))
    model.zero_grad(set_to_none=True)
    loss, state = _mean_loss(model, state, X, Y)
    loss.backward()
    return loss, state


def train_step(model, optimizer, state, X, Y, clip):
    """Forward, backward, clip, SGD step. Returns (new state, summed loss, gradient norm
    before clipping), the last two on the device."""
    loss, state = _backward(model, state, X, Y)
    norm = grad_clipping(model, clip)
    optimizer.step()
    return state, loss.detach() * Y.size, norm.detach()


def eval_step(model, state, X, Y):
    with torch.no_grad():
        loss, state = _mean_loss(model, state, X, Y)
    return state, loss * Y.size


def forward(model, X, state):
    cfg = model.cfg
    with torch.no_grad():
        if X.shape[1] == 1 and cfg.cell in _CELL_STEPS and not cfg.bidirectional and model.group is None:
            return _cell_step(model, X, state)
        y_hat, state = model(_tensor(model, X), state)
    return y_hat.cpu().numpy(), state


_CELL_STEPS = {"gru": torch.gru_cell, "lstm": torch.lstm_cell}


def _cell_step(model, X, state):
    """One step of a unidirectional GRU or LSTM (what the coder runs every character) through
    torch's cell functions on the model's own weights: nn.GRU's and nn.LSTM's math, without
    the module's per-call overhead (a third of the step at batch 32)."""
    cfg = model.cfg
    step: Any = _CELL_STEPS[cfg.cell]
    layers = [[getattr(model.rnn, n.split(".", 1)[1]) for n in names] for _, _, names in rnn_weight_names(cfg)]
    x = torch.as_tensor(np.asarray(X)[:, 0], dtype=torch.long, device=model.device)
    inp = F.one_hot(x, cfg.vocab_size).to(_DTYPES[model.dtype_name])
    hs, cs = _unstacked(cfg, state)
    logits = F.linear(_cells_up(step, layers, inp, hs, cs), model.linear.weight, model.linear.bias)
    return logits.cpu().numpy(), _stacked(hs, cs)


def _unstacked(cfg, state):
    """A GRU's or LSTM's state as lists per layer: (h's, c's or None)."""
    lstm = cfg.cell == "lstm"
    return list((state[0] if lstm else state).unbind(0)), (list(state[1].unbind(0)) if lstm else None)


def _stacked(hs, cs):
    h = torch.stack(hs)
    return (h, torch.stack(cs)) if cs is not None else h


def _cells_up(step, layers, inp, hs, cs):
    """One step through every layer's cell, updating hs (and cs) in place; the top output."""
    for layer, weights in enumerate(layers):
        if cs is None:
            hs[layer] = inp = step(inp, hs[layer], *weights)
        else:
            hs[layer], cs[layer] = step(inp, (hs[layer], cs[layer]), *weights)
            inp = hs[layer]
    return inp


def greedy_continue(model, state, last, num_chars):
    """`num_chars` greedy token ids after token `last`. Returns (ids as NumPy, state).

    Batch-1 generation is all per-call overhead, so a unidirectional model steps with
    torch's cell functions on its own weights instead of the module, with no NumPy
    conversion per character. The math is the model's: layer 0's one-hot input is a row of
    the identity matrix.
    """
    cfg = model.cfg
    if cfg.bidirectional:  # the reverse direction makes a step a whole-model call anyway
        return _greedy_by_module(model, state, last, num_chars)
    layers = [[getattr(model.rnn, n.split(".", 1)[1]) for n in names] for _, _, names in rnn_weight_names(cfg)]
    if cfg.cell == "rnn":
        return _greedy_vanilla(layers, model.linear, cfg.activation, state, last, num_chars)
    w_out, b_out = model.linear.weight.t(), model.linear.bias.unsqueeze(0)
    step: Any = _CELL_STEPS[cfg.cell]
    eye = torch.eye(cfg.vocab_size, dtype=w_out.dtype, device=model.device)
    hs, cs = _unstacked(cfg, state)
    out, x = [], last
    with torch.no_grad():
        for _ in range(num_chars):
            x = int(torch.addmm(b_out, _cells_up(step, layers, eye[x : x + 1], hs, cs), w_out).argmax())
            out.append(x)
    return np.array(out, dtype=np.int64), _stacked(hs, cs)


def _greedy_vanilla(layers, linear, activation, state, last, num_chars):
    """The vanilla RNN step as two matrix-vector ops a layer: layer 0's input projection and
    both biases are one table row (one-hot x times W_ih^T, plus b_ih + b_hh), looked up in
    a Python list, then W_hh h and the activation in place."""
    act = torch.relu_ if activation == "relu" else kernel_tanh_  # the fused forward's tanh
    with torch.inference_mode():  # cheaper per op than no_grad; the state is only read later
        w_ih0, _, b_ih0, b_hh0 = layers[0]
        rows = list((w_ih0.t() + (b_ih0 + b_hh0)).unbind(0))
        upper = [(w_ih, b_ih + b_hh) for w_ih, _, b_ih, b_hh in layers[1:]]
        w_hh = [w for _, w, _, _ in layers]
        w_out, b_out = linear.weight, linear.bias  # locals: module attribute lookups cost ~1 us
        hs, out, x = [h[0] for h in state.unbind(0)], [], last
        for _ in range(num_chars):
            h = hs[0] = act(torch.addmv(rows[x], w_hh[0], hs[0]))
            for layer, (w_ih, bias) in enumerate(upper, start=1):
                h = hs[layer] = act(torch.addmv(torch.addmv(bias, w_ih, h), w_hh[layer], hs[layer]))
            x = torch.addmv(b_out, w_out, h).argmax().item()
            out.append(x)
    return np.array(out, dtype=np.int64), torch.stack(hs).unsqueeze(1)


def _greedy_by_module(model, state, last, num_chars):
    out = torch.empty(num_chars, dtype=torch.long, device=model.device)
    x = torch.tensor([[last]], dtype=torch.long, device=model.device)
    with torch.no_grad():
        for i in range(num_chars):
            y_hat, state = model(x, state)
            x = y_hat.argmax(dim=1).reshape(1, 1)
            out[i] = x[0, 0]
    return out.cpu().numpy(), state


def loss_and_grads(model, state, X, Y):
    """The mean loss and its gradient for every weight (canonical names), without updating.

    The gradients stay on the model afterwards, as after a backward pass.
    """
    loss, _ = _backward(model, state, X, Y)
    grads = {name: p.grad.detach().cpu().numpy().copy() for name, p in model.named_parameters()}
    return float(loss.detach()), grads
