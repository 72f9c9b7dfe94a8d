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

import hashlib
import os
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np

FRAC_BITS = 12  # log2 values are integers in units of 1/4096 bit
EXP_BITS = 24  # exp2 results are integers out of 2**24
_SIZE = 1 << FRAC_BITS


# the tables as computed_tables() builds them, shipped beside this module (building them takes
# 0.4 s, a tenth of a short file's whole run), and the SHA-256 of their bytes
TABLES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixed_point_tables.npz")
TABLES_SHA256 = "8a968a4af1f641a3046fb420d568238cca82da6ed38f20800d9a8d9caf07f8ee"


@lru_cache(maxsize=None)
def tables():
    """(LOG_TABLE, EXP_TABLE): the shipped file's, if it holds exactly what computed_tables()
    gives (its hash says so), else computed."""
    try:
        with np.load(TABLES_FILE, allow_pickle=False) as f:
            log, exp = np.ascontiguousarray(f["log"], "<i8"), np.ascontiguousarray(f["exp"], "<i8")
        if hashlib.sha256(log.tobytes() + exp.tobytes()).hexdigest() == TABLES_SHA256:
            return log.astype(np.int64), exp.astype(np.int64)
    except (OSError, KeyError, ValueError, EOFError):
        pass
    return computed_tables()


def computed_tables():
    """(LOG_TABLE, EXP_TABLE) from their definitions, in `decimal`."""
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
    """log2 of positive integers (any shape, < 2**53), in units of 2**-FRAC_BITS, as int64.

    x as a float64 is exact, 1.f * 2**E with E and f in its bits: E from the exponent field,
    the mantissa bucket from f's top FRAC_BITS bits (what frexp's m * 2**(FRAC_BITS+1) -
    2**FRAC_BITS truncates to, without the float arithmetic)."""
    log_table, _ = tables()
    bits = np.asarray(x, dtype=np.float64).view(np.int64)
    return (((bits >> 52) - 1023) << FRAC_BITS) + log_table[(bits >> (52 - FRAC_BITS)) & (_SIZE - 1)]


def exp2_neg_fixed(y):
    """2**(-y / 2**FRAC_BITS) out of 2**EXP_BITS, for int64 y >= 0 (0 once it underflows)."""
    _, exp_table = tables()
    y = np.asarray(y, dtype=np.int64)
    shift = np.minimum(y >> FRAC_BITS, 63)
    return exp_table[y & (_SIZE - 1)] >> shift
