"""SSE (an APM, as paq calls it): the mixed distribution's top probability, corrected by what
happened before in the same small context.

The mix says "symbol s, with probability q". In the stretch domain, st = log2(q / (1 - q)),
a table per context holds 33 probabilities at st = -16 .. +16 bits, one bit apart,
initialised to the identity; q' interpolates the two entries around st, and
after coding both move toward the outcome (s or not s), each by its share of the
interpolation. The final top probability averages q and q' (1:3), the other symbols keep
their proportions of what is left. Integers throughout (logs from `fixed_point`).
"""

from dataclasses import dataclass

from typing import Any

import numpy as np

from rnnlm.compression.fixed_point import FRAC_BITS, exp2_neg_fixed, log2_fixed

ORDER2_CONTEXTS = 1 << 16  # order 2's contexts, hashed (x 33 entries x 8 bytes: 17 MiB)

ONE = 1 << 16  # the tables' probabilities, out of 2**16
STEPS = 33  # entries per context: stretch -16 .. +16 bits, one bit apart
_HALF = (STEPS - 1) // 2
OUT_BITS = 24  # the corrected distribution, out of about 2**24


@dataclass(frozen=True)
class SSEConfig:
    rate: int = 6  # each update moves an entry 2**-rate of the way (0: no SSE)
    weight: int = 3  # the corrected probability's share in the final one, out of 4
    order: int = 2  # its context: the previous symbol (1) or the previous two, hashed (2)


def squash(st):
    """2**16 / (1 + 2**-st) for st in units of 2**-FRAC_BITS, as int64 (exact integer ops)."""
    st = np.asarray(st, dtype=np.int64)
    e = exp2_neg_fixed(np.abs(st))  # 2**(-|st|) out of 2**24
    pos = (np.int64(1) << 40) // ((1 << 24) + e)
    return np.where(st >= 0, pos, ONE - pos)


class SSE:
    def __init__(self, contexts, config=SSEConfig()):
        self.cfg = config
        centres = (np.arange(STEPS, dtype=np.int64) - _HALF) << FRAC_BITS
        self.table = np.tile(np.clip(squash(centres), 1, ONE - 1), (contexts, 1))
        self._last: Any = None

    def refine(self, p, context):
        """p: (rows, V) positive int64; context: (rows,) -> (rows, V) int64, each at least 1."""
        rows = np.arange(len(p))
        total = p.sum(axis=1)
        top = p.argmax(axis=1)
        q = p[rows, top]
        st = log2_fixed(q) - log2_fixed(np.maximum(total - q, 1))  # stretch, 2**-FRAC_BITS units
        pos = np.clip(st + (_HALF << FRAC_BITS), 0, ((STEPS - 1) << FRAC_BITS) - 1)
        lo, frac = pos >> FRAC_BITS, pos & ((1 << FRAC_BITS) - 1)
        t = self.table[context]
        a, b = t[rows, lo], t[rows, lo + 1]
        refined = (a * ((1 << FRAC_BITS) - frac) + b * frac) >> FRAC_BITS  # out of 2**16
        q16 = (q << 16) // total
        w = self.cfg.weight
        final = np.clip((q16 * (4 - w) + refined * w) >> 2, 1, ONE - 1)  # out of 2**16
        self._last = context, lo, frac, top
        # the top symbol gets `final`, the others share the rest in their old proportions
        top_new = final << (OUT_BITS - 16)
        rest = (np.int64(1) << OUT_BITS) - top_new
        out = p * rest[:, None] // np.maximum(total - q, 1)[:, None]  # < 2**48: no overflow
        out[rows, top] = top_new
        return np.maximum(out, 1)

    def update(self, symbols, active):
        context, lo, frac, top = (a[:active] for a in self._last)
        y = np.where(top == symbols[:active], ONE - 1, 1)
        rate = self.cfg.rate
        for idx, share in ((lo, (1 << FRAC_BITS) - frac), (lo + 1, frac)):
            cell = self.table[context, idx]
            # moved by the entry's interpolation share: both sides compute the same integers
            step = ((y - cell) * share) >> (FRAC_BITS + rate)
            np.add.at(self.table, (context, idx), step)
