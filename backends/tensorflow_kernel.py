"""The vanilla-RNN recurrence for the TensorFlow backend, with its own backward (as
jax_kernel / jax_rnn_kernel.py is for JAX and torch_rnn_kernel.py for PyTorch).

Differentiating the unrolled loop through `tf.GradientTape` computes the recurrent weight's
gradient inside the backward loop: one (H x B) @ (B x H) product per step and a sum of T
(H, H) matrices at the end. Here the backward loop carries only dh (one (B, H) @ (H, H)
product per step) and stacks the pre-activation gradients; dW_hh is then one large product
over all steps, and the gradient of xw is that stack itself. The math is the same:

    h_t = act(xw_t + h_{t-1} W_hh^T),  xw_t = x_t W_ih^T + b_ih + b_hh (computed by the caller)

The loops are Python loops, unrolled when the step is traced (the steps are known per shape).
"""

from .tensorflow_runtime import tf  # the runtime's switches hold before tensorflow loads


@tf.custom_gradient
def transposed(w):
    """w^T as a tensor of its own, for a product at every time step. Grappler folds a plain
    tf.transpose into the products that read it (transpose_b), and that product takes 3.5x
    as long at (32, 256) x (256, 256) on a 2-core EPYC (the book's 35 steps: 3.3 ms against
    0.97); a Snapshot of the transpose is kept as it is."""

    def grad(d):
        return tf.transpose(d)

    return tf.raw_ops.Snapshot(input=tf.transpose(w)), grad


def rnn_layer(xw, h0, w_hh, relu, reverse):
    """One direction of one layer: (xw (T,B,H), h0 (B,H), w_hh (H,H)) -> (ys (T,B,H) in time
    order, h after the last step taken). `reverse` runs the steps from T-1 down to 0."""
    return _layer(relu, reverse)(xw, h0, w_hh)


def _layer(relu, reverse):
    act = tf.nn.relu if relu else tf.tanh

    @tf.custom_gradient
    def layer(xw, h0, w_hh):
        inputs = tf.unstack(xw)
        order = range(len(inputs) - 1, -1, -1) if reverse else range(len(inputs))
        ys: list = [None] * len(inputs)
        h, w_t = h0, transposed(w_hh)
        for t in order:
            h = ys[t] = act(inputs[t] + tf.matmul(h, w_t))
        outputs = tf.stack(ys)

        def backward(d_ys, d_h_last):
            # act'(pre-activation), from the outputs: tanh' = 1 - y^2, relu' = [y > 0]
            slope = tf.cast(outputs > 0, outputs.dtype) if relu else 1 - outputs * outputs
            from_outputs = tf.unstack(d_ys * slope)  # the d_ys part of every step's d_pre
            slopes = tf.unstack(slope)
            dh = d_h_last if d_h_last is not None else tf.zeros_like(h0)
            d_pre: list = [None] * len(inputs)
            for t in reversed(order):
                d_pre[t] = from_outputs[t] + dh * slopes[t]
                dh = tf.matmul(d_pre[t], w_hh)
            stacked = tf.stack(d_pre)
            # the state each step read: h0 then ys in the direction the steps ran
            h_prev = tf.concat([outputs[1:], h0[None]], 0) if reverse else tf.concat([h0[None], outputs[:-1]], 0)
            hidden = h0.shape[-1]
            d_w_hh = tf.matmul(tf.reshape(stacked, (-1, hidden)), tf.reshape(h_prev, (-1, hidden)), transpose_a=True)
            return stacked, dh, d_w_hh

        return (outputs, h), backward

    return layer
