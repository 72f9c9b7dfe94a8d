"""The vanilla-RNN recurrence for the JAX backend, with its own backward (as
torch_kernel.py is for PyTorch).

Differentiating `lax.scan` through JAX's autodiff makes the backward loop compute the
recurrent weight's gradient inside the loop: one small (H x B) @ (B x H) product and an
(H, H) accumulation per step. Here the backward loop carries only dh (one (B, H) @ (H, H)
product per step) and stacks the pre-activation gradients; dW_hh is then one large product
over all steps, and the gradient of xw is that stack itself. The math is the same:

    h_t = act(xw_t + h_{t-1} W_hh^T),  xw_t = x_t W_ih^T + b_ih + b_hh (computed by the caller)
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

_HIGHEST = lax.Precision.HIGHEST  # true float32 products on GPUs too (no TF32)


def _recur(xw, h0, w_hh, relu, reverse):
    act = jax.nn.relu if relu else jnp.tanh
    w_t = w_hh.T  # transposed once: a product with a transposed operand inside the scan is
    # slower on XLA's CPU than the plain one (3.0 ms against 0.8 for the book's 35 steps)

    def step(h, x):
        h = act(x + jnp.dot(h, w_t, precision=_HIGHEST))
        return h, h

    h_last, ys = lax.scan(step, h0, xw, reverse=reverse)
    return ys, h_last


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def rnn_layer(xw, h0, w_hh, relu, reverse):
    """One direction of one layer: (xw (T,B,H), h0 (B,H), w_hh (H,H)) -> (ys (T,B,H) in time
    order, h after the last step taken). `reverse` runs the steps from T-1 down to 0."""
    return _recur(xw, h0, w_hh, relu, reverse)


def _forward(xw, h0, w_hh, relu, reverse):
    ys, h_last = _recur(xw, h0, w_hh, relu, reverse)
    return (ys, h_last), (h0, w_hh, ys)


def _backward(relu, reverse, residuals, cotangents):
    h0, w_hh, ys = residuals
    d_ys, d_h_last = cotangents
    # act'(pre-activation), from the outputs: tanh' = 1 - y^2, relu' = [y > 0]
    deriv = (ys > 0).astype(ys.dtype) if relu else 1 - ys * ys
    from_outputs = d_ys * deriv  # the d_ys part of every step's d_pre, one op for all steps

    def step(dh, inputs):
        part, slope = inputs
        d_pre = part + dh * slope
        return d_pre @ w_hh, d_pre

    d_h0, d_pre = lax.scan(step, d_h_last, (from_outputs, deriv), reverse=not reverse)
    # the state each step read: h0 then ys in the direction the steps ran
    h_prev = jnp.concatenate([ys[1:], h0[None]]) if reverse else jnp.concatenate([h0[None], ys[:-1]])
    hidden = h0.shape[-1]
    d_w_hh = lax.dot_general(
        d_pre.reshape(-1, hidden), h_prev.reshape(-1, hidden), (((0,), (0,)), ((), ())), precision=_HIGHEST
    )
    return d_pre, d_h0, d_w_hh


rnn_layer.defvjp(_forward, _backward)
