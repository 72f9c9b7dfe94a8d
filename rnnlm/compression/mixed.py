"""The RNN and the context model mixed: what the coder codes each column under.

    prev symbols --> ContextModel --> levels p_0 .. p_N --+
    text so far  --> MatchModel   --> p_match ------------+--> 3 Mixers --> final mix --> SSE --> coder
    RNN's float64 probabilities --> quantized (2**24) ----+

The first mixer's weight set is chosen by the highest order seen (0..N), whether that context
has only ever seen one symbol, the match state and the RNN's confidence; the second's by the
previous symbol, the third's (optional) by the previous two. A small mixer (or an average)
combines them, and SSE corrects the top
probability by the previous symbol and the match state. Without the RNN (`rnn=False`) the
context model's levels (and the match model) are mixed alone. `probs` returns float64 p / sum p:
exact integers divided once (IEEE division
is correctly rounded everywhere), so both sides hand the coder the same floats.
"""

from dataclasses import asdict, dataclass, field, replace

from typing import Any

import numpy as np

from rnnlm.compression.coder import close
from rnnlm.compression.context_model import ContextConfig, ContextModel
from rnnlm.compression.fixed_point import log2_fixed
from rnnlm.compression.match_model import MatchConfig, MatchModel
from rnnlm.compression.sse import ORDER2_CONTEXTS, SSE, SSEConfig
from rnnlm.compression.mixer import WEIGHT_ONE, MixConfig, Mixer, probs_from_scores, quantize_model_probs


@dataclass(frozen=True)
class MixSettings:
    rnn: bool = True
    context: ContextConfig = field(default_factory=ContextConfig)
    mixer: MixConfig = field(default_factory=MixConfig)
    match: MatchConfig = field(default_factory=MatchConfig)
    sse: SSEConfig = field(default_factory=SSEConfig)

    def to_dict(self):
        return asdict(self)

    @staticmethod
    def from_dict(d):
        """From a file's settings; a TypeError/ValueError/KeyError for anything malformed."""
        if not isinstance(d, dict) or set(d) != {"rnn", "context", "mixer", "match", "sse"}:
            raise ValueError("mix settings")
        ctx, mix = ContextConfig(**d["context"]), MixConfig(**d["mixer"])
        match, sse = MatchConfig(**d["match"]), SSEConfig(**d["sse"])
        for v in (
            *asdict(ctx).values(),
            *asdict(mix).values(),
            *asdict(match).values(),
            *asdict(sse).values(),
            d["rnn"],
        ):
            if type(v) not in (int, bool):
                raise ValueError("mix settings")
        if (
            not 0 <= ctx.max_order <= 16
            or not 0 <= ctx.discount <= 16
            or not 0 <= ctx.discount2 <= 32
            or not 0 <= ctx.discount3 <= 48
            or not 0 < ctx.add <= 1 << 16
            or not 2 <= ctx.limit <= 1 << 16
            or not 0 < ctx.max_cells <= 1 << 26
            or not 0 <= mix.lr <= 1 << 16
            or not 1 <= mix.confidence_buckets <= 64
            or not 0 <= mix.final_lr <= 1 << 16
            or mix.third not in (0, 1)
            or not 0 <= mix.lr_boost <= 1 << 16
            or not abs(mix.match_weight) <= 1 << 20
            or not 0 <= match.min_len <= 32
            or not 2 <= match.limit <= 1 << 20
            or not 0 <= sse.rate <= 16
            or not 0 <= sse.weight <= 4
            or sse.order not in (1, 2)
        ):
            raise ValueError("mix settings")
        return MixSettings(bool(d["rnn"]), ctx, mix, match, sse)


# the context model alone: no RNN to weigh, and settings of its own (the file records them):
# on five 3-18 kB texts of four kinds, no second mixer over the two mixes, a smaller boost for
# young weight sets and a faster SSE cost 0.003-0.016 bits/char less on four, 0.006 more on one
CONTEXT_ALONE = MixSettings(
    rnn=False, mixer=replace(MixConfig(), final_lr=0, lr_boost=48), sse=replace(SSEConfig(), rate=5)
)


class MixedModel:
    def __init__(self, vocab_size, rows, settings=MixSettings()):
        self.settings = settings
        self.context = ContextModel(vocab_size, rows, settings.context)
        self.match = MatchModel(vocab_size, rows, settings.match) if settings.match.min_len else None
        levels = settings.context.max_order + 1
        inputs = levels + (1 if settings.rnn else 0) + (self.match is not None)
        self.confidence = settings.mixer.confidence_buckets if settings.rnn else 1
        rnn_input = 0 if settings.rnn else None
        sets = 2 * levels * self.confidence * MATCH_STATES
        self.mixer = Mixer(inputs, sets, settings.mixer, rnn_input)
        # a second weight set chosen by the previous symbol
        self.mixer2 = Mixer(inputs, vocab_size, settings.mixer, rnn_input)
        if self.match is not None:
            for m in (self.mixer, self.mixer2):
                m.weights[:, int(settings.rnn)] = settings.mixer.match_weight
        # the two mixes combined: averaged, or by a learned 2-input mixer per match state
        # a third, optional, chosen by the previous two symbols (hashed)
        self.mixer3 = Mixer(inputs, ORDER2_SETS, settings.mixer, rnn_input) if settings.mixer.third else None
        if self.mixer3 is not None and self.match is not None:
            self.mixer3.weights[:, int(settings.rnn)] = settings.mixer.match_weight
        self.final = None
        if settings.mixer.final_lr:
            final_cfg = replace(settings.mixer, lr=settings.mixer.final_lr)
            n = 2 + (self.mixer3 is not None)
            self.final = Mixer(n, MATCH_STATES * levels, final_cfg)
            self.final.weights[:] = WEIGHT_ONE // n
        self.sse = None
        if settings.sse.rate:
            two = settings.sse.order == 2
            self.sse = SSE(ORDER2_CONTEXTS if two else vocab_size * MATCH_STATES, settings.sse)
        self.V, self.prev2 = vocab_size, np.zeros(rows, dtype=np.int64)

    def probs_int(self, prev, rnn_probs=None):
        """(rows, V) int64 probabilities of each row's next symbol."""
        prev = np.asarray(prev, dtype=np.int64)
        levels, seen, distinct = self.context.predict(prev)
        inputs = [levels]
        state = np.zeros(len(prev), dtype=np.int64)
        if self.match is not None:
            inputs.insert(0, self.match.predict()[None])
            state = match_state(self.match.bucket())
        selector = (2 * seen + (distinct == 1)) * MATCH_STATES + state
        if self.settings.rnn:
            q = quantize_model_probs(rnn_probs)
            inputs.insert(0, q[None])
            # how sure the RNN is: its top probability in equal buckets of [0, 1]
            sure = (q.max(axis=1) * self.confidence) >> 24
            selector = selector * self.confidence + np.minimum(sure, self.confidence - 1)
        levels = np.concatenate(inputs) if len(inputs) > 1 else levels
        logs = log2_fixed(levels)
        self.mixer.mix(levels, selector, logs)
        self.mixer2.mix(levels, prev, logs)
        mixes = [self.mixer.score, self.mixer2.score]
        if self.mixer3 is not None:
            self.mixer3.mix(levels, (self.prev2 * self.V + prev) % ORDER2_SETS, logs)
            mixes.append(self.mixer3.score)
        if self.final is None:
            p = probs_from_scores(sum(mixes) // len(mixes))
        else:
            scores = np.stack(mixes)
            p = self.final.mix(None, state * (self.settings.context.max_order + 1) + seen, scores)
        if self.sse is not None:
            context = prev * MATCH_STATES + state
            if self.settings.sse.order == 2:
                context = (self.prev2 * self.V * MATCH_STATES + context) % ORDER2_CONTEXTS
            p = self.sse.refine(p, context)
        self.prev2 = prev
        return p

    def probs(self, prev, rnn_probs=None):
        p = self.probs_int(prev, rnn_probs)
        return p / p.sum(axis=1, keepdims=True).astype(np.float64)

    def update(self, symbols, active):
        self.context.update(symbols)
        self.mixer.update(symbols, active)
        self.mixer2.update(symbols, active)
        if self.mixer3 is not None:
            self.mixer3.update(symbols, active)
        if self.final is not None:
            self.final.update(symbols, active)
        if self.sse is not None:
            self.sse.update(symbols, active)
        if self.match is not None:
            self.match.update(symbols)


ORDER2_SETS = 4096  # the third mixer's weight sets
MATCH_STATES = 3  # no match, a match shorter than 16 symbols, a longer one


def match_state(bucket):
    return np.minimum(bucket, 1) + (bucket >= 16)


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
        extra = int(settings.rnn) + int(model.match is not None)
        for k in range(len(inputs)):
            name = "rnn alone" if k < settings.rnn else "match model" if k < extra else f"orders 0-{k - extra}"
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

    def close(self):
        close(self.inner)  # the coder's one way to stop a predictor


def mixing_factory(inner_factory, vocab_size, settings):
    """Rows -> a MixingPredictor over `inner_factory(rows)` (None when settings.rnn is off)."""

    def make(rows):
        inner = inner_factory(rows) if settings.rnn else None
        return MixingPredictor(inner, vocab_size, rows, settings)

    return make
