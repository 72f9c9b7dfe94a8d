"""Canonical weight names and shapes, and the initial weights drawn once in NumPy.

The canonical layout is the state dict of the book's PyTorch `RNNModel`
(`rnn.weight_ih_l0`, ..., `linear.weight`, `linear.bias`). Gate blocks are stacked along
dim 0 in PyTorch's order: GRU (reset, update, new), LSTM (input, forget, cell, output).
Backends translate this layout to and from their own.
"""

from collections import OrderedDict
from typing import Dict, Tuple

import numpy as np

from rnnlm.config import GATES


def rnn_weight_names(cfg):
    """(layer, direction suffix, [ih, hh, b_ih, b_hh] names) for every layer and direction."""
    out = []
    for layer in range(cfg.num_layers):
        for suffix in ("", "_reverse")[: cfg.num_directions]:
            out.append(
                (
                    layer,
                    suffix,
                    [f"rnn.{kind}_l{layer}{suffix}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")],
                )
            )
    return out


def canonical_shapes(cfg):
    """Ordered {name: shape} of every weight of the model described by `cfg`."""
    gh = GATES[cfg.cell] * cfg.num_hiddens
    shapes: Dict[str, Tuple[int, ...]] = OrderedDict()
    for layer, _, (w_ih, w_hh, b_ih, b_hh) in rnn_weight_names(cfg):
        input_size = cfg.vocab_size if layer == 0 else cfg.num_hiddens * cfg.num_directions
        shapes[w_ih] = (gh, input_size)
        shapes[w_hh] = (gh, cfg.num_hiddens)
        shapes[b_ih] = (gh,)
        shapes[b_hh] = (gh,)
    shapes["linear.weight"] = (cfg.vocab_size, cfg.num_hiddens * cfg.num_directions)
    shapes["linear.bias"] = (cfg.vocab_size,)
    return shapes


def init_weights(cfg, seed, dtype="float32"):
    """PyTorch's default initialization, drawn in NumPy so every backend starts identical.

    Recurrent weights and biases ~ U(-1/sqrt(H), 1/sqrt(H)) (nn.RNN/GRU/LSTM); the output
    layer's weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (nn.Linear).
    """
    rng = np.random.default_rng([seed, 0x5EED])  # a stream apart from the batch order's
    out = OrderedDict()
    for name, shape in canonical_shapes(cfg).items():
        # nn.Linear bounds by its input width; nn.RNN and its kin by the hidden size
        fan = cfg.num_hiddens * cfg.num_directions if name.startswith("linear.") else cfg.num_hiddens
        bound = 1.0 / np.sqrt(fan)
        out[name] = rng.uniform(-bound, bound, size=shape).astype(dtype)
    return out


def check_weights(cfg, weights):
    """Raise ValueError unless `weights` has exactly the canonical names and shapes."""
    expected = canonical_shapes(cfg)
    if set(weights) != set(expected):
        missing = sorted(set(expected) - set(weights))
        extra = sorted(set(weights) - set(expected))
        raise ValueError(f"weights do not match the model: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ValueError(f"weight {name} has shape {tuple(weights[name].shape)}, expected {shape}")
