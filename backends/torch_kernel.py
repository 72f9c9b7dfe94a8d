"""A fused vanilla-RNN recurrence for the PyTorch backend, with its own backward.

`nn.RNN` on the CPU records every time step in the autograd graph: its backward computes
the recurrent weight's gradient as one small GEMM per step and concatenates per-step
gradients. Here the forward runs the steps without a graph, keeps the hidden states,
and the backward runs the reverse recurrence (one GEMM per step for dh) and then gets
dW_hh with a single large GEMM over all steps. The math is the same:

    h_t = act(xw_t + h_{t-1} W_hh^T),  xw_t = W_ih x_t + b_ih + b_hh (computed by the caller,
    for the first layer as a gather of W_ih's columns: one-hot x_t times W_ih, without the
    one-hot).
"""

import torch


class FusedRNNLayer(torch.autograd.Function):
    """One direction of one layer: (xw (T,B,H), h0 (B,H), w_hh (H,H)) -> (Y (T,B,H), h_T)."""

    @staticmethod
    def forward(ctx, xw, h0, w_hh, relu):
        act = torch.relu_ if relu else torch.tanh_
        steps = xw.shape[0]
        ys = torch.empty_like(xw)
        h = h0
        w_t = w_hh.t()
        for t in range(steps):
            h = act(torch.addmm(xw[t], h, w_t, out=ys[t]))
        ctx.relu = relu
        ctx.save_for_backward(h0, w_hh, ys)
        return ys, h.clone()

    @staticmethod
    def backward(ctx, d_ys, d_hT):
        h0, w_hh, ys = ctx.saved_tensors
        steps = ys.shape[0]
        # act'(pre-activation), from the outputs: tanh' = 1 - y^2, relu' = [y > 0]
        deriv = (ys > 0).to(ys.dtype) if ctx.relu else 1 - ys * ys
        # d_pre[t] = (d_ys[t] + dh_{t+1}) * deriv[t]; the d_ys part is one op for all steps
        d_pre = d_ys * deriv if d_ys is not None else torch.zeros_like(ys)
        dh = d_hT if d_hT is not None else torch.zeros_like(h0)
        for t in range(steps - 1, -1, -1):
            d_pre[t].addcmul_(dh, deriv[t])
            dh = d_pre[t] @ w_hh
        hidden = h0.shape[-1]
        h_prev = torch.cat([h0.unsqueeze(0), ys[:-1]], 0).reshape(-1, hidden)
        d_w_hh = d_pre.reshape(-1, hidden).t() @ h_prev
        return d_pre, dh, d_w_hh, None
