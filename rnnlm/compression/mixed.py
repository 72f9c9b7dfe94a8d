"""The RNN and the context model mixed: what the coder codes each column under.

    prev symbols --> ContextModel --> levels p_0 .. p_N --+
                                                          +--> Mixer --> p (integers) --> coder
    RNN's float64 probabilities --> quantized (2**24) ----+

The mixer's weight set is chosen by the highest order seen (0..N) and whether that context
has only ever seen one symbol. Without the RNN (`rnn=False`) the context model's levels are
mixed alone. `probs` returns float64 p / sum p: exact integers divided once (IEEE division
is correctly rounded everywhere), so both sides hand the coder the same floats.
"""

from dataclasses import asdict, dataclass, field

from typing import Any

import numpy as np

from rnnlm.compression.context_model import ContextConfig, ContextModel
from rnnlm.compression.fixed_point import log2_fixed
from rnnlm.compression.mixer import MixConfig, Mixer, probs_from_scores, quantize_model_probs


@dataclass(frozen=True)
class MixSettings:
    rnn: bool = True
    context: ContextConfig = field(default_factory=ContextConfig)
    mixer: MixConfig = field(default_factory=MixConfig)

    def to_dict(self):
        return asdict(self)

    @staticmethod
    def from_dict(d):
        """From a file's settings; a TypeError/ValueError/KeyError for anything malformed."""
        if not isinstance(d, dict) or set(d) != {"rnn", "context", "mixer"}:
            raise ValueError("mix settings")
        ctx, mix = ContextConfig(**d["context"]), MixConfig(**d["mixer"])
        for v in (*asdict(ctx).values(), *asdict(mix).values(), d["rnn"]):
            if type(v) not in (int, bool):
                raise ValueError("mix settings")
        if not 0 <= ctx.max_order <= 16 or not 0 <= ctx.discount <= 16 or not 0 < ctx.add <= 1 << 16 \
                or not 2 <= ctx.limit <= 1 << 16 or not 0 < ctx.max_cells <= 1 << 26 \
                or not 0 <= mix.lr <= 1 << 16 or not 1 <= mix.confidence_buckets <= 64:
            raise ValueError("mix settings")
        return MixSettings(bool(d["rnn"]), ctx, mix)


class MixedModel:
    def __init__(self, vocab_size, rows, settings=MixSettings()):
        self.settings = settings
        self.context = ContextModel(vocab_size, rows, settings.context)
        levels = settings.context.max_order + 1
        inputs = levels + (1 if settings.rnn else 0)
        self.confidence = settings.mixer.confidence_buckets if settings.rnn else 1
        rnn_input = 0 if settings.rnn else None
        self.mixer = Mixer(inputs, 2 * levels * self.confidence, settings.mixer, rnn_input)
        # a second weight set chosen by the previous symbol; the two mixes are averaged
        self.mixer2 = Mixer(inputs, vocab_size, settings.mixer, rnn_input)

    def probs_int(self, prev, rnn_probs=None):
        """(rows, V) int64 probabilities of each row's next symbol."""
        levels, seen, distinct = self.context.predict(prev)
        selector = 2 * seen + (distinct == 1)
        if self.settings.rnn:
            q = quantize_model_probs(rnn_probs)
            levels = np.concatenate([q[None], levels])
            # how sure the RNN is: its top probability in equal buckets of [0, 1]
            sure = (q.max(axis=1) * self.confidence) >> 24
            selector = selector * self.confidence + np.minimum(sure, self.confidence - 1)
        logs = log2_fixed(levels)
        self.mixer.mix(levels, selector, logs)
        self.mixer2.mix(levels, np.asarray(prev, dtype=np.int64), logs)
        return probs_from_scores((self.mixer.score + self.mixer2.score) >> 1)

    def probs(self, prev, rnn_probs=None):
        p = self.probs_int(prev, rnn_probs)
        return p / p.sum(axis=1, keepdims=True).astype(np.float64)

    def update(self, symbols, active):
        self.context.update(symbols)
        self.mixer.update(symbols, active)
        self.mixer2.update(symbols, active)


def simulate(ids, rnn_probs, rows, length, settings=MixSettings(), each_level=True, columns=None):
    """Replay the coder's column order over `ids` with recorded RNN probabilities (quantized,
    in text order) and no coder: ideal bits of the mix, the RNN alone, each level alone."""
    n, V = len(ids), rnn_probs.shape[1]
    grid = np.zeros(rows * length, dtype=np.int64)
    grid[:n] = ids
    grid = grid.reshape(rows, length)
    rp = np.ones((rows * length, V), dtype=np.int64)
    rp[:n] = rnn_probs
    rp = rp.reshape(rows, length, V)
    model = MixedModel(V, rows, settings)
    last_len = n - (rows - 1) * length
    report = {"mix": 0.0, "rnn alone": 0.0}
    prev = np.zeros(rows, dtype=np.int64)
    for t in range(length if columns is None else min(columns, length)):
        active = rows if t < last_len else rows - 1
        p = model.probs_int(prev, rp[:, t] / float(1 << 24))[:active]
        x, r = grid[:active, t], np.arange(active)
        report["mix"] -= float(np.log2(p[r, x] / p.sum(axis=1)).sum())
        inputs: Any = model.mixer.inputs_of_last() if each_level else []
        for k in range(len(inputs)):
            name = "rnn alone" if k < settings.rnn else f"orders 0-{k - settings.rnn}"
            q = inputs[k, :active]
            report[name] = report.get(name, 0.0) - float(np.log2(q[r, x] / q.sum(axis=1)).sum())
        model.update(grid[:, t], active)
        prev = grid[:, t]
    return report, n if columns is None else min(n, columns * rows)


class MixingPredictor:
    """A `compress.Predictor` (or none: the context model alone) whose distributions are mixed
    with the context model's. The same calls in the same order on both sides of the coder."""

    def __init__(self, inner, vocab_size, rows, settings):
        self.inner = inner
        self.model = MixedModel(vocab_size, rows, settings)

    def probs(self, prev):
        rnn = None if self.inner is None else self.inner.probs(prev)
        return self.model.probs(prev, rnn)

    def after_step(self, t, inputs, targets):
        # rows past the text's end hold 0 on both sides: learning from them is harmless and equal
        self.model.update(targets[:, t], len(targets))
        if self.inner is not None:
            self.inner.after_step(t, inputs, targets)


def mixing_factory(inner_factory, vocab_size, settings):
    """Rows -> a MixingPredictor over `inner_factory(rows)` (None when settings.rnn is off)."""
    def make(rows):
        inner = inner_factory(rows) if settings.rnn else None
        return MixingPredictor(inner, vocab_size, rows, settings)
    return make
