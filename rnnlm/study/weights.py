"""Initial weights of the studies' own models, drawn once in NumPy so every framework starts
from the same numbers (as rnnlm.model.weights does for the concise model).

- the book's from-scratch RNN (d2l "RNN from scratch"): W_xh, W_hh, b_h, W_hq, b_q, the
  matrices ~ normal(0, 0.01), the biases zero; `init="uniform"` draws the matrices as the
  concise model's nn.RNN/nn.Linear would (U(-1/sqrt(H), 1/sqrt(H))), for the study's
  one-factor comparison;
- the sequence regressor: the same RNN reading one real number a step, a linear head to one
  output (the autoregressive study);
- the book's MLP for the autoregressive model: 4 -> 10 -> 1, Xavier-uniform weights, zero biases.
"""

from collections import OrderedDict

import numpy as np

SCRATCH_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")
MLP_NAMES = ("W1", "b1", "W2", "b2")


def _rng(seed, stream):
    return np.random.default_rng([seed, stream])  # one stream per model kind


def scratch_weights(num_inputs, num_hiddens, num_outputs, seed, dtype="float32", init="normal"):
    """{W_xh (I, H), W_hh (H, H), b_h (H,), W_hq (H, O), b_q (O,)}, the book's layout (x @ W)."""
    if init not in ("normal", "uniform"):
        raise ValueError(f"init must be normal or uniform, got {init!r}")
    rng = _rng(seed, 0x5C7A)
    shapes = {"W_xh": (num_inputs, num_hiddens), "W_hh": (num_hiddens, num_hiddens), "W_hq": (num_hiddens, num_outputs)}
    bound = 1.0 / np.sqrt(num_hiddens)  # nn.RNN's and (fan_in = H) nn.Linear's bound
    out = OrderedDict()
    for name in SCRATCH_NAMES:
        if name in shapes:
            if init == "normal":
                out[name] = rng.normal(0.0, 0.01, size=shapes[name])
            else:
                out[name] = rng.uniform(-bound, bound, size=shapes[name])
        else:
            size = num_hiddens if name == "b_h" else num_outputs
            out[name] = np.zeros(size) if init == "normal" else rng.uniform(-bound, bound, size=size)
    return OrderedDict((k, v.astype(dtype)) for k, v in out.items())


def regressor_weights(num_hiddens, seed, dtype="float32"):
    """The RNN sequence regressor: scratch-layout weights, 1 input, 1 output, uniform init
    (normal(0, 0.01) would start a real-valued regressor near a constant)."""
    return scratch_weights(1, num_hiddens, 1, seed, dtype, init="uniform")


def mlp_weights(num_inputs, num_hiddens, seed, dtype="float32"):
    """The book's `get_net`: Linear(4, 10), ReLU, Linear(10, 1), Xavier-uniform weights."""
    rng = _rng(seed, 0x41A9)

    def xavier(fan_in, fan_out):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, size=(fan_in, fan_out))

    out = OrderedDict(
        W1=xavier(num_inputs, num_hiddens), b1=np.zeros(num_hiddens), W2=xavier(num_hiddens, 1), b2=np.zeros(1)
    )
    return OrderedDict((k, v.astype(dtype)) for k, v in out.items())
