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

Where the time went (benchmarks/profile_step.py, 2-core AMD EPYC with AVX-512):
- The products. MKL, behind torch.mm, takes a generic path on AMD processors: 74-87 GFLOP/s
  for the step's 32x256x256 product, 89 for the 256x1120x256 weight gradient, where oneDNN
  (in every torch CPU wheel, behind torch.ops.mkldnn) runs 114 and 205. So float32 on the
  CPU multiplies through oneDNN (`OneDNNProducts`), everything else through torch.mm
  (`TorchProducts`; oneDNN has no float64 products). Both are deterministic for a machine
  and a thread count, so runs still repeat bit for bit.
- torch's CPU tanh: 2.5 ns an element (20 µs for a 32x256 row), where NumPy's SIMD tanh takes
  0.25. The CPU forward uses NumPy's, on the same memory. Both are within an ulp.
- The rest stays small: each step reads and writes rows of one (T + 1, B, H) buffer (views made
  once, by `unbind`); the backward's step is the product that also adds the incoming gradient,
  then act' times it (`tanh_backward`/`threshold_backward`, read from the saved outputs).
"""

from typing import Any

import numpy as np
import torch


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
        return w if rows is None else _REORDER(w, rows)

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
    global _LINEAR, _REORDER
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        _LINEAR, _REORDER = torch.ops.mkldnn._linear_pointwise, torch.ops.mkldnn._reorder_linear_weight
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
_REORDER: Any = None
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
        steps, batch, hidden = xw.shape
        mm = products_for(xw)
        # hs[0] = h0, hs[t + 1] = act(xw[t] + hs[t] W_hh^T): the outputs and, shifted by one,
        # every step's input state, which the weight gradient reads as one matrix
        hs = torch.empty((steps + 1, batch, hidden), dtype=xw.dtype, device=xw.device)
        hs[0] = h0
        packed = mm.pack(w_hh, batch)
        rows = hs.unbind(0)
        for t, x_t in enumerate(xw.unbind(0)):
            _activate(mm.linear_add(rows[t], x_t, packed), rows[t + 1], relu)
        ctx.relu = relu
        ctx.save_for_backward(w_hh, hs)
        return hs[1:], rows[-1].clone()

    @staticmethod
    def backward(ctx, d_ys, d_hT):
        w_hh, hs = ctx.saved_tensors
        steps, batch, hidden = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        mm = products_for(hs)
        d_ys = torch.zeros_like(hs[1:]) if d_ys is None else d_ys.contiguous()
        dh = d_hT if d_hT is not None else torch.zeros_like(hs[0])
        packed = mm.pack(w_hh.t().contiguous(), batch)  # dh_t = d_pre_t W_hh
        # d_pre[t] = act'(pre-activation t) * (d_ys[t] + dh_{t+1}), act' read from the output;
        # the sum comes out of the previous step's product (linear_add)
        d_pre = torch.empty_like(d_ys)
        pres, ys, d_y = d_pre.unbind(0), hs[1:].unbind(0), d_ys.unbind(0)
        incoming = d_y[-1] + dh
        for t in reversed(range(steps)):
            if ctx.relu:
                _relu_backward(incoming, ys[t], 0, grad_input=pres[t])
            else:
                _tanh_backward(incoming, ys[t], grad_input=pres[t])
            if t:
                incoming = mm.linear_add(pres[t], d_y[t - 1], packed)
        dh = mm.linear(pres[0], packed)
        # dW_hh = sum_t d_pre[t]^T h_{t-1}, over all steps in one product
        d_w_hh = mm.t_mm(d_pre.reshape(-1, hidden), hs[:-1].reshape(-1, hidden))
        return d_pre, dh, d_w_hh, None


class OutputLayer(torch.autograd.Function):
    """nn.Linear's forward and backward, (X (N,H), W (V,H), b (V)) -> X W^T + b, through
    the same products as the recurrence."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        mm = products_for(x)
        ctx.save_for_backward(x, weight)
        return mm.linear(x, mm.pack(weight), bias)

    @staticmethod
    def backward(ctx, d_out):
        x, weight = ctx.saved_tensors
        mm = products_for(x)
        d_x = mm.linear(d_out, mm.pack(weight.t().contiguous()))
        return d_x, mm.t_mm(d_out, x), d_out.sum(0)


def _activate(pre, out, relu):
    """out = act(pre), in place in `out` (a row of the hidden-state buffer)."""
    if relu:
        torch.clamp(pre, min=0, out=out)
    elif out.device.type == "cpu":
        np.tanh(pre.numpy(), out=out.numpy())
    else:
        torch.tanh(pre, out=out)


def tanh_(t):
    """torch.tanh_ as the fused forward computes it (NumPy's on the CPU), for paths that must
    give the same values, such as batch-1 generation."""
    _activate(t, t, relu=False)
    return t
