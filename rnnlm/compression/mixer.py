"""A learned log-linear mixer of several distributions over the same vocabulary, in integers.

Each input i gives every symbol v a probability p_i(v); the mix is

    p(v)  proportional to  2 ** ( sum_i w_i log2 p_i(v) )      (a geometric mixture)

and after the symbol x is coded each weight moves along the gradient of log2 p(x):

    w_i += lr * ( log2 p_i(x) - sum_v p(v) log2 p_i(v) )

with lr larger while a weight set is young (lr + boost * 256 / (256 + its updates so far)), so
the many sets learn fast at first and settle later; without it a useless input (a tiny RNN)
kept too much weight for thousands of characters and the mix coded worse than its best input.

The weights are chosen per row by a small context (the highest context-model order seen, and
whether that context has seen one symbol only), as paq's mixers select weight sets. Logs and
exps are the tables of `fixed_point`; weights are integers in units of 2**-16; every
operation is int64, so both sides of the coder compute the same bits on any machine.
"""

from dataclasses import dataclass

from typing import Any

import numpy as np

from rnnlm.compression.fixed_point import FRAC_BITS, exp2_neg_fixed, log2_fixed

PROB_BITS = 24  # a framework's probabilities enter as integers out of 2**24
WEIGHT_ONE = 1 << 16


def quantize_model_probs(p):
    """A framework's float64 probabilities as integers out of 2**PROB_BITS (each at least 1):
    a multiplication by a power of two and a floor, exact on every machine."""
    q = np.floor(np.asarray(p, dtype=np.float64) * float(1 << PROB_BITS)).astype(np.int64)
    return np.maximum(q, 1)


@dataclass(frozen=True)
class MixConfig:
    lr: int = 24  # learning rate, in units of 2**-14
    lr_boost: int = 96  # a young weight set learns faster: lr + lr_boost * 256 / (256 + its updates)
    rnn_weight: int = 26214  # initial weight of the RNN (out of 2**16: 0.4)
    top_weight: int = 39322  # initial weight of the context model's highest level (0.6)
    confidence_buckets: int = 4  # weight sets per bucket of the RNN's top probability
    match_weight: int = 16384  # initial weight of the match model (0.25)
    third: int = 1  # 1: a third weight set, chosen by the previous two symbols (hashed)
    final_lr: int = 2  # 0: the two mixes averaged; else a 2-input mixer learns how to weigh them


class Mixer:
    """Weights for `inputs` distributions, one set per selector value."""

    def __init__(self, inputs, selectors, config=MixConfig(), rnn_input=None):
        self.cfg = config
        w = np.zeros((selectors, inputs), dtype=np.int64)
        if rnn_input is None:
            w[:, -1] = WEIGHT_ONE
        else:
            w[:, rnn_input] = config.rnn_weight
            w[:, -1] = config.top_weight
        self.weights = w
        self.updates = np.zeros(selectors, dtype=np.int64)
        self._last: Any = None

    def mix(self, probs, selector, logs=None):
        """probs: (inputs, rows, V) positive int64 (or their `log2_fixed` logs); selector:
        (rows,) -> (rows, V) int64 probabilities out of about 2**EXP_BITS, each at least 1.
        `self.score` keeps their log2, up to a constant per row, in units of 2**-FRAC_BITS."""
        self._probs = probs
        logs = log2_fixed(probs) if logs is None else logs  # (inputs, rows, V)
        w = self.weights[selector]  # (rows, inputs)
        self.score = np.einsum("irv,ri->rv", logs, w) >> 16
        p = probs_from_scores(self.score)
        self._last = logs, selector, p
        return p

    def inputs_of_last(self):
        """The input distributions of the last `mix` (for studies)."""
        return self._probs

    def update(self, symbols, active):
        """Learn from the coded `symbols` of the first `active` rows."""
        logs, selector, p = self._last
        logs, selector, p = logs[:, :active], selector[:active], p[:active]
        rows = np.arange(active)
        expected = np.einsum("irv,rv->ri", logs, p) // p.sum(axis=1)[:, None]
        grad = logs[:, rows, symbols[:active]].T - expected  # (rows, inputs)
        lr: Any = self.cfg.lr
        if self.cfg.lr_boost:
            lr = lr + (self.cfg.lr_boost << 8) // (256 + self.updates[selector])[:, None]
            np.add.at(self.updates, selector, 1)
        np.add.at(self.weights, selector, (grad * lr) >> (FRAC_BITS + 14 - 16))


def probs_from_scores(score):
    """Integer probabilities 2**score, scaled so the largest is 2**EXP_BITS (each at least 1)."""
    return np.maximum(exp2_neg_fixed(score.max(axis=1, keepdims=True) - score), 1)


def ideal_bits(p, symbols):
    """-sum log2 p(x) / total, in float (for reports only)."""
    rows = np.arange(len(symbols))
    return float(-np.log2(p[rows, symbols] / p.sum(axis=1)).sum())
