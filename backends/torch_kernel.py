"""A fused vanilla-RNN recurrence and output layer for the PyTorch backend, with their own
backward, and the matrix products they run on.

`nn.RNN` on the CPU records every time step in the autograd graph: its backward computes
the recurrent weight's gradient as one small GEMM per step and concatenates per-step
gradients. Here the forward runs the steps without a graph and keeps the hidden states, and
the backward runs the reverse recurrence (one GEMM per step for dh) and then gets dW_hh with
one large GEMM over all steps. The math is the same:

    h_t = act(xw_t + h_{t-1} W_hh^T),  xw_t = W_ih x_t + b_ih + b_hh (computed by the caller,
    for the first layer as a gather of W_ih's columns: one-hot x_t times W_ih, without the
    one-hot).

`recur`/`recur_backward` and `output_layer`/`output_layer_backward` are that math; the autograd
Functions below and `loss_and_grads_without_autograd` (the book's model) call them.

Where the time went (benchmarks/profile_step.py, 2-core AMD EPYC with AVX-512):
- The products. MKL, behind torch.mm, takes a generic path on AMD processors: 74-87 GFLOP/s
  for the step's 32x256x256 product, 89 for the 256x1120x256 weight gradient, where oneDNN
  (in every torch CPU wheel, behind torch.ops.mkldnn) runs 114 and 205. So float32 on the
  CPU multiplies through oneDNN (`OneDNNProducts`), everything else through torch.mm
  (`TorchProducts`; oneDNN has no float64 products). Both are deterministic for a machine
  and a thread count, so runs still repeat bit for bit.
  The recurrence's weight goes in column-major (a copy, 46 µs), which oneDNN reads 15%
  faster than row-major and cheaper than its own blocked reorder (150 µs), with the same bits.
  Of each 32x256x256 product's ~32 µs, ~13 are torch's wrapper around oneDNN (the same at
  2x8x8): 70 calls a step, the floor of this design.
- The elementwise work. torch's CPU tanh costs 2.5 ns an element (20 µs for a 32x256 row),
  NumPy's SIMD tanh 0.25, and every torch call around a product adds 2-5 µs where NumPy's
  add, tanh and views add under 1. On the CPU the steps therefore run their elementwise work
  in NumPy, on the tensors' memory (`_forward_steps_cpu`, `_backward_steps_cpu`: tanh' = 1 - y^2
  for all steps in one operation); other devices use torch's (`_forward_steps`, `_backward_steps`).
- Each step reads and writes rows of one (T + 1, B, H) buffer (views made once, by `unbind`).
"""

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


_tanh_backward = torch.ops.aten.tanh_backward.grad_input
_relu_backward = torch.ops.aten.threshold_backward.grad_input


class TorchProducts:
    """torch.mm and addmm: any device, any dtype."""

    @staticmethod
    def pack(w, rows=None):
        """A (N, K) weight, ready for `linear` on (rows, K) inputs (rows None: for one use)."""
        return w.t()

    @staticmethod
    def linear(x, packed, bias=None):
        """x @ w^T (+ bias)."""
        return torch.mm(x, packed) if bias is None else torch.addmm(bias, x, packed)

    @staticmethod
    def linear_add(x, other, packed):
        """other + x @ w^T."""
        return torch.addmm(other, x, packed)

    @staticmethod
    def t_mm(a, b):
        """a^T @ b."""
        return torch.mm(a.t(), b)


class OneDNNProducts:
    """oneDNN's matmul (the ops torch's own compiler uses on the CPU): float32 on the CPU."""

    @staticmethod
    def pack(w, rows=None):
        # for many products (the recurrence): column-major, which oneDNN reads 15% faster
        # than row-major at 32x256x256; a copy of W_hh costs 46 us where oneDNN's own
        # reorder to its blocked layout costs 150 (the same bits all three ways)
        if rows is None or w.stride() == (1, w.shape[0]):
            return w
        return w.t().contiguous().t()

    @staticmethod
    def linear(x, packed, bias=None):
        return _LINEAR(x, packed, bias, "none", [], "")

    @staticmethod
    def linear_add(x, other, packed):
        return _LINEAR.binary(x, other, packed, None, "add")

    @staticmethod
    def t_mm(a, b):
        return _LINEAR(a.t(), b.t(), None, "none", [], "")  # oneDNN copies a^T to rows: still ~1.7x torch.mm


def _onednn_works():
    """Whether this torch has the ops and they compute what torch.mm does (a torch built
    without oneDNN, or one whose private signatures changed, keeps torch.mm)."""
    global _LINEAR
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        _LINEAR = torch.ops.mkldnn._linear_pointwise
        g = torch.Generator().manual_seed(0)
        a, b, c = (torch.rand(s, generator=g) for s in ((3, 5), (4, 5), (3, 4)))
        p = OneDNNProducts
        checks = [
            (p.linear(a, p.pack(b, 3)), a @ b.t()),
            (p.linear(a, p.pack(b), c[0]), c[0] + a @ b.t()),
            (p.linear_add(a, c, p.pack(b, 3)), c + a @ b.t()),
            (p.t_mm(a, c), a.t() @ c),
        ]
        return all(got.shape == want.shape and torch.allclose(got, want, atol=1e-5) for got, want in checks)
    except (AttributeError, RuntimeError, TypeError):
        return False


_LINEAR: Any = None
_ONEDNN = _onednn_works()


def products_for(t):
    """The products for tensors like `t`."""
    if _ONEDNN and t.dtype == torch.float32 and t.device.type == "cpu":
        return OneDNNProducts
    return TorchProducts


class FusedRNNLayer(torch.autograd.Function):
    """One direction of one layer: (xw (T,B,H), h0 (B,H), w_hh (H,H)) -> (Y (T,B,H), h_T)."""

    @staticmethod
    def forward(ctx, xw, h0, w_hh, relu):
        hs = recur(xw.detach(), h0, w_hh, relu)
        ctx.relu = relu
        ctx.save_for_backward(w_hh, hs)
        return hs[1:], hs[-1].clone()

    @staticmethod
    def backward(ctx, d_ys, d_hT):
        w_hh, hs = ctx.saved_tensors
        return (*recur_backward(hs, w_hh, d_ys, d_hT, ctx.relu), None)


def recur(xw, h0, w_hh, relu):
    """hs (T+1, B, H): hs[0] = h0, hs[t + 1] = act(xw[t] + hs[t] W_hh^T), the outputs and,
    shifted by one, every step's input state, which the weight gradient reads as one matrix."""
    steps, batch, hidden = xw.shape
    mm = products_for(xw)
    hs = torch.empty((steps + 1, batch, hidden), dtype=xw.dtype, device=xw.device)
    hs[0] = h0
    (_forward_steps_cpu if xw.device.type == "cpu" else _forward_steps)(mm, mm.pack(w_hh, batch), xw, hs, relu)
    return hs


def recur_backward(hs, w_hh, d_ys, d_hT, relu):
    """(d_pre (T,B,H), dh_0, dW_hh) of `recur` given the outputs' gradient `d_ys` and the last
    state's `d_hT` (None: zero). d_pre is also xw's gradient."""
    batch, hidden = hs.shape[1], hs.shape[2]
    mm = products_for(hs)
    d_ys = torch.zeros_like(hs[1:]) if d_ys is None else d_ys.contiguous()
    incoming = d_ys[-1] if d_hT is None else d_ys[-1] + d_hT
    packed = mm.pack(w_hh.t(), batch)  # dh_t = d_pre_t W_hh
    # d_pre[t] = act'(pre-activation t) * (d_ys[t] + dh_{t+1}), act' read from the output
    d_pre = torch.empty_like(d_ys)
    steps_for = _backward_steps_cpu if hs.device.type == "cpu" and not relu else _backward_steps
    dh = steps_for(mm, packed, d_ys, incoming, hs[1:], d_pre, relu)
    # dW_hh = sum_t d_pre[t]^T h_{t-1}, over all steps in one product
    d_w_hh = mm.t_mm(d_pre.reshape(-1, hidden), hs[:-1].reshape(-1, hidden))
    return d_pre, dh, d_w_hh


def _forward_steps(mm, packed, xw, hs, relu):
    """hs[t + 1] = act(xw[t] + hs[t] W_hh^T), in torch: any device."""
    rows = hs.unbind(0)
    for t, x_t in enumerate(xw.unbind(0)):
        pre = mm.linear_add(rows[t], x_t, packed)
        if relu:
            torch.clamp(pre, min=0, out=rows[t + 1])
        else:
            torch.tanh(pre, out=rows[t + 1])


def _forward_steps_cpu(mm, packed, xw, hs, relu):
    """The same on the CPU, the elementwise work in NumPy on the tensors' memory: a product
    is most of a step's 35 us there, and each torch call around it adds 2-5 us where
    NumPy's add, tanh and views add under 1 (and its tanh is 10x faster than torch's)."""
    rows, out, x = hs.unbind(0), hs.numpy(), xw.numpy()
    act = _cpu_activation(relu)
    for t in range(len(x)):
        pre = mm.linear(rows[t], packed).numpy()
        act(np.add(pre, x[t], out=pre), out=out[t + 1])


def _backward_steps(mm, packed, d_ys, incoming, ys, d_pre, relu):
    """d_pre[t] = act'(t) * incoming_t, incoming_{t-1} = d_ys[t-1] + d_pre[t] W_hh, from the
    last step back, act' read from the outputs `ys`; returns dh_0 = d_pre[0] W_hh."""
    pres, ys, d_y = d_pre.unbind(0), ys.unbind(0), d_ys.unbind(0)
    for t in reversed(range(len(pres))):
        if relu:
            _relu_backward(incoming, ys[t], 0, grad_input=pres[t])
        else:
            _tanh_backward(incoming, ys[t], grad_input=pres[t])
        if t:
            incoming = mm.linear_add(pres[t], d_y[t - 1], packed)
    return mm.linear(pres[0], packed)


def _backward_steps_cpu(mm, packed, d_ys, incoming, ys, d_pre, relu):
    """`_backward_steps` for tanh on the CPU, its elementwise work in NumPy as the forward's:
    tanh' = 1 - y^2 for every step in one operation, then one product per step."""
    slope = np.square(ys.numpy())
    np.subtract(1, slope, out=slope)  # 1 - y*y, as tanh_backward
    pres, out, d_y = d_pre.unbind(0), d_pre.numpy(), d_ys.numpy()
    into = incoming.numpy()
    for t in reversed(range(len(out))):
        np.multiply(into, slope[t], out=out[t])
        if t:
            into = mm.linear(pres[t], packed).numpy()
            np.add(into, d_y[t - 1], out=into)
    return mm.linear(pres[0], packed)


def _cpu_activation(relu):
    """The activation the CPU steps apply, a NumPy function f(x, out=...)."""
    return _relu_np if relu else np.tanh


def _relu_np(x, out):
    return np.maximum(x, 0, out=out)


class OutputLayer(torch.autograd.Function):
    """nn.Linear's forward and backward, (X (N,H), W (V,H), b (V)) -> X W^T + b, through
    the same products as the recurrence."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return output_layer(x, weight, bias)

    @staticmethod
    def backward(ctx, d_out):
        x, weight = ctx.saved_tensors
        return output_layer_backward(d_out, x, weight)


def output_layer(x, weight, bias):
    mm = products_for(x)
    return mm.linear(x, mm.pack(weight), bias)


def output_layer_backward(d_out, x, weight):
    """(dX, dW, db) of `output_layer`."""
    mm = products_for(x)
    return mm.linear(d_out, mm.pack(weight.t())), mm.t_mm(d_out, x), d_out.sum(0)


def tanh_(t):
    """torch.tanh_ as the fused forward computes it (NumPy's on the CPU), for paths that must
    give the same values, such as batch-1 generation."""
    if t.device.type == "cpu":
        _cpu_activation(relu=False)(t.numpy(), out=t.numpy())
        return t
    return t.tanh_()


# ---- the book's model without autograd ---------------------------------------------------
#
# The book's model's loss and gradients written out: one layer, one direction, the vanilla
# RNN on the kernels above, with no autograd graph.
#
# On one core of a 2-core AMD EPYC, autograd's bookkeeping around the fused kernels (about 15
# graph nodes a step, each gradient through its own node) was 9% of the book's 5 ms step
# (docs/results/2026-12-03-mxnet-pipelining-and-torch-without-autograd.md). The math is the
# autograd path's, in the same kernels:
#
#     table = W_ih^T + b_ih + b_hh;  xw = table[x]     one-hot input times W_ih, as a gather
#     hs = recur(xw, h0, W_hh);  logits = hs[1:] W^T + b;  loss = mean cross-entropy
#     d_logits = (softmax(logits) - onehot(y)) / N
#     dY, dW, db = output_layer_backward(d_logits);  d_pre, dW_hh = recur_backward(dY)
#     d_table = d_pre's rows summed by token;  dW_ih = d_table^T;  db_ih = db_hh = sum of its rows
#
# Other models (more layers, two directions, gated cells, a data-parallel group) and
# `fused=False` take autograd.


def runs_without_autograd(model):
    """Whether `model` is the book's shape of model on the fused kernels, outside a group."""
    cfg = model.cfg
    return model.fused and cfg.num_layers == 1 and not cfg.bidirectional and model.group is None


@torch.no_grad()
def loss_and_grads_without_autograd(model, state, tokens, targets):
    """(mean loss, new state) for `tokens` (B, T) and time-major `targets` (T*B,), with every
    parameter's `.grad` set, as `loss.backward()` sets them."""
    rnn, linear = model.rnn, model.linear
    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    relu = model.cfg.activation == "relu"
    x = tokens.T
    table = (w_ih.t() + (b_ih + b_hh)).contiguous()
    hs = recur(F.embedding(x, table), state[0], w_hh, relu)
    ys = hs[1:].reshape(-1, hs.shape[-1])
    log_p = torch.log_softmax(output_layer(ys, linear.weight, linear.bias), dim=1)
    loss = F.nll_loss(log_p, targets)
    d_logits = log_p.exp_()
    d_logits[torch.arange(len(targets), device=targets.device), targets] -= 1
    d_logits /= len(targets)
    d_ys, d_w, d_b = output_layer_backward(d_logits, ys, linear.weight)
    d_pre, _, d_w_hh = recur_backward(hs, w_hh, d_ys.reshape(hs[1:].shape), None, relu)
    d_table = torch.zeros_like(table).index_add_(0, x.reshape(-1), d_pre.reshape(-1, hs.shape[-1]))
    d_bias = d_table.sum(0)
    grads = (d_table.t(), d_w_hh, d_bias, d_bias.clone(), d_w, d_b)  # each its own tensor: clipping scales in place
    for p, g in zip((w_ih, w_hh, b_ih, b_hh, linear.weight, linear.bias), grads):
        p.grad = g
    return loss, hs[-1:].clone()
