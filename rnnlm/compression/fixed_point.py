"""Integer log2 and exp2 for the mixer, table-driven so every machine computes the same bits.

Float `log`/`exp` come from libm or NumPy's SIMD loops, which may round differently from one CPU
to the next; these tables are built once with `decimal` (software arithmetic, correctly
rounded, the same everywhere) and then only indexed, shifted and added in int64.

    log2 of an integer x >= 1, in units of 2**-FRAC_BITS:
        x = m * 2**e with m in [0.5, 1)       (np.frexp: exact for x < 2**53, no rounding)
        log2 x = (e - 1) + log2(2m)           the second term from a 2**FRAC_BITS-entry table
    2**(-y / 2**FRAC_BITS) for y >= 0, as an integer out of 2**EXP_BITS:
        exp_table[y mod 2**FRAC_BITS] >> (y div 2**FRAC_BITS)
"""

from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np

FRAC_BITS = 12  # log2 values are integers in units of 1/4096 bit
EXP_BITS = 24  # exp2 results are integers out of 2**24
_SIZE = 1 << FRAC_BITS


@lru_cache(maxsize=None)
def tables():
    """(LOG_TABLE, EXP_TABLE), built on first use (about a second)."""
    with localcontext() as ctx:
        ctx.prec = 24  # enough for 24-bit results; more only costs import time
        ln2, scale = Decimal(2).ln(), Decimal(_SIZE)
        # log2(1 + (i + 1/2) / 4096): the middle of each mantissa bucket
        log = [
            int(((1 + (Decimal(i) + Decimal("0.5")) / scale).ln() / ln2 * scale).to_integral_value())
            for i in range(_SIZE)
        ]
        exp = [int((((-Decimal(i) / scale) * ln2).exp() * (1 << EXP_BITS)).to_integral_value()) for i in range(_SIZE)]
    return np.array(log, dtype=np.int64), np.array(exp, dtype=np.int64)


def log2_fixed(x):
    """log2 of positive integers (any shape, < 2**53), in units of 2**-FRAC_BITS, as int64."""
    log_table, _ = tables()
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    bucket = (m * (2 * _SIZE)).astype(np.int64) - _SIZE  # exact: m has at most 53 bits
    return (e.astype(np.int64) - 1) * _SIZE + log_table[bucket]


def exp2_neg_fixed(y):
    """2**(-y / 2**FRAC_BITS) out of 2**EXP_BITS, for int64 y >= 0 (0 once it underflows)."""
    _, exp_table = tables()
    y = np.asarray(y, dtype=np.int64)
    shift = np.minimum(y >> FRAC_BITS, 63)
    return exp_table[y & (_SIZE - 1)] >> shift
