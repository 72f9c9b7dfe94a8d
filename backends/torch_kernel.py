"""A fused vanilla-RNN recurrence for the PyTorch backend, with its own backward.

`nn.RNN` on the CPU records every time step in the autograd graph: its backward computes
the recurrent weight's gradient as one small GEMM per step and concatenates per-step
gradients. Here the forward runs the steps without a graph, keeps the hidden states,
and the backward runs the reverse recurrence (one GEMM per step for dh) and then gets
dW_hh with one large GEMM over all steps. The math is the same:

    h_t = act(xw_t + h_{t-1} W_hh^T),  xw_t = W_ih x_t + b_ih + b_hh (computed by the caller,
    for the first layer as a gather of W_ih's columns: one-hot x_t times W_ih, without the
    one-hot).

Where the time goes (benchmarks/profile_step.py): the GEMMs are at MKL's peak, so what is cut
is the rest. Each step works on one row of a (T, B, H) buffer (views made once, by
`unbind`), in place; the backward's step is two fused operations (the incoming gradients'
sum, then act' times it: `tanh_backward`/`threshold_backward`, which read the saved outputs)
and its GEMM, with no (T, B, H) temporaries and no concatenation.
"""

import torch

_tanh_backward = torch.ops.aten.tanh_backward.grad_input
_relu_backward = torch.ops.aten.threshold_backward.grad_input


class FusedRNNLayer(torch.autograd.Function):
    """One direction of one layer: (xw (T,B,H), h0 (B,H), w_hh (H,H)) -> (Y (T,B,H), h_T)."""

    @staticmethod
    def forward(ctx, xw, h0, w_hh, relu):
        act = torch.relu_ if relu else torch.tanh_
        ys = xw.clone()  # each row becomes act(row + h W_hh^T), in place: the same sums as addmm
        h = h0
        w_t = w_hh.t()
        for row in ys.unbind(0):
            h = act(row.addmm_(h, w_t))
        ctx.relu = relu
        ctx.save_for_backward(h0, w_hh, ys)
        return ys, h.clone()

    @staticmethod
    def backward(ctx, d_ys, d_hT):
        h0, w_hh, ys = ctx.saved_tensors
        if d_ys is None:
            d_ys = torch.zeros_like(ys)
        dh = d_hT if d_hT is not None else torch.zeros_like(h0)
        # d_pre[t] = act'(pre-activation t) * (d_ys[t] + dh_{t+1}), act' read from the output
        d_pre = torch.empty_like(ys)
        for pre, y, d_y in zip(reversed(d_pre.unbind(0)), reversed(ys.unbind(0)), reversed(d_ys.unbind(0))):
            torch.add(d_y, dh, out=pre)
            if ctx.relu:
                _relu_backward(pre, y, 0, grad_input=pre)
            else:
                _tanh_backward(pre, y, grad_input=pre)
            dh = torch.mm(pre, w_hh)
        # dW_hh = sum_t d_pre[t]^T h_{t-1}: step 0 against h0, the rest in one GEMM
        batch, hidden = h0.shape
        flat = d_pre.reshape(-1, hidden)
        d_w_hh = torch.mm(flat[:batch].t(), h0)
        d_w_hh.addmm_(flat[batch:].t(), ys[:-1].reshape(-1, hidden))
        return d_pre, dh, d_w_hh, None
