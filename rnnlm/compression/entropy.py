"""Entropy coding for `rnnlm compress`: constriction's range coder, the probabilities it is
given, and the fallback that codes characters the model does not know.

Both directions must hand the coder bit-identical probabilities, so everything here is
deterministic NumPy on float64: `model_probs` turns a framework's logits into the table the
coder quantizes (constriction's `Categorical(perfect=False)`, a deterministic function of
the floats), and `Fallback` is a pure-Python adaptive model whose state depends only on
the characters coded so far. Both sides also add up the ideal cost, -sum log2 p, of what
they code, so the commands can report how close the coded size comes to it.
"""

import math

import numpy as np

from rnnlm.errors import UsageError
from rnnlm.install import install_hint

PROB_FLOOR = 1e-9  # no symbol gets less, so none is ever uncodable (constriction also ensures it)
MAX_CODE_POINT = 0x110000  # exclusive; lone surrogates (U+DC80..U+DCFF) carry undecodable bytes
FALLBACK_TABLE = 1024  # distinct escaped characters remembered; later new ones stay literal


def _constriction():
    try:
        import constriction  # imported on use: `import rnnlm` stays light
    except ModuleNotFoundError:
        raise UsageError(f"compress and decompress need constriction: {install_hint('compress')}") from None
    return constriction.stream


def model_probs(logits):
    """Softmax of a (rows, V) array of logits, in float64, floored and renormalized."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    p = z / z.sum(axis=1, keepdims=True)
    np.maximum(p, PROB_FLOOR, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


class Fallback:
    """An adaptive model over code points, for the characters that escape through `<unk>`.

    A character seen before is coded by its count among the escaped characters seen so far
    (plus one "new" entry weighted by how many distinct ones there are, as PPM's method C);
    a new one is the "new" entry followed by its code point, uniformly. Encoder and decoder
    update the same table in the same order.
    """

    def __init__(self):
        self.seen = []  # code points, in order of first escape
        self.index = {}  # code point -> position in `seen`
        self.counts = []
        self.ideal_bits = 0.0

    def _table(self):
        return np.array(self.counts + [max(1, len(self.seen))], dtype=np.float64)

    def _update(self, cp, position):
        if position is not None:
            self.counts[position] += 1
        elif len(self.seen) < FALLBACK_TABLE:
            self.index[cp] = len(self.seen)
            self.seen.append(cp)
            self.counts.append(1)

    def encode(self, coder, cp):
        stream = _constriction()
        position = self.index.get(cp)
        if self.seen:
            table = self._table()
            symbol = len(self.seen) if position is None else position
            coder.encode(np.array([symbol], dtype=np.int32), stream.model.Categorical(perfect=False), table[None, :])
            self.ideal_bits -= math.log2(table[symbol] / table.sum())
        if position is None:
            coder.encode(np.array([cp], dtype=np.int32), stream.model.Uniform(MAX_CODE_POINT))
            self.ideal_bits += math.log2(MAX_CODE_POINT)
        self._update(cp, position)

    def decode(self, decoder):
        stream = _constriction()
        position = None
        if self.seen:
            table = self._table()
            symbol = int(decoder.decode(stream.model.Categorical(perfect=False), table[None, :])[0])
            self.ideal_bits -= math.log2(table[symbol] / table.sum())
            position = symbol if symbol < len(self.seen) else None
        if position is None:
            cp = int(decoder.decode(stream.model.Uniform(MAX_CODE_POINT)))
            self.ideal_bits += math.log2(MAX_CODE_POINT)
        else:
            cp = self.seen[position]
        self._update(cp, position)
        return cp


class SymbolEncoder:
    """Rows of symbols under rows of probabilities into one range-coded stream."""

    def __init__(self):
        stream = _constriction()
        self.coder = stream.queue.RangeEncoder()
        self.family = stream.model.Categorical(perfect=False)
        self.fallback = Fallback()
        self.ideal_bits = 0.0

    def encode(self, symbols, probs):
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        self.coder.encode(symbols, self.family, probs)
        self.ideal_bits -= float(np.log2(probs[np.arange(len(symbols)), symbols]).sum())

    def escape(self, cp):
        self.fallback.encode(self.coder, cp)

    def total_ideal_bits(self):
        return self.ideal_bits + self.fallback.ideal_bits

    def words(self):
        """The coded stream as little-endian uint32 words."""
        return np.asarray(self.coder.get_compressed(), dtype="<u4")


class SymbolDecoder:
    """The mirror of SymbolEncoder, reading the same stream back."""

    def __init__(self, words):
        stream = _constriction()
        self.coder = stream.queue.RangeDecoder(np.asarray(words, dtype=np.uint32))
        self.family = stream.model.Categorical(perfect=False)
        self.fallback = Fallback()
        self.ideal_bits = 0.0

    def decode(self, probs):
        symbols = np.asarray(self.coder.decode(self.family, probs), dtype=np.int64)
        self.ideal_bits -= float(np.log2(probs[np.arange(len(symbols)), symbols]).sum())
        return symbols

    def unescape(self):
        return self.fallback.decode(self.coder)

    def total_ideal_bits(self):
        return self.ideal_bits + self.fallback.ideal_bits
