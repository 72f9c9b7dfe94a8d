"""A match model: the longest earlier occurrence of the recent text predicts what follows it.

Every row keeps a pointer into the text coded so far (any row's). After each column the last
`min_len` symbols of every row are hashed into a table that remembers where such a context
last ended; a row without a match looks its context up there (and checks the candidate really
matches, so a hash collision predicts nothing). While the pointed-to symbol keeps coming, the
match grows by one a column; a wrong guess drops it.

The prediction is one distribution per row: the pointed-to symbol gets the probability that
matches of that length were right so far (adaptive integer counts per length bucket), the
rest share what is left; a row without a match gets the uniform distribution, which a
log-linear mixer ignores (its log is a constant). All integer, so both coder sides agree.

    text so far   ... t h e   t i m e   t r a v e l l e r ... t h e   t i m e   t
                              ^^^^^^^^^^^ context       ^ predicted   ^^^^^^^^^^^ now
"""

from dataclasses import dataclass

import numpy as np

PROB_BITS = 24
TABLE_BITS = 22  # 4 Mi entries of int64 (32 MiB): a position per hashed context
_HASH_MUL = 0x2545F491  # odd, < 2**32: symbol i of the window times _HASH_MUL**i, mod 2**TABLE_BITS


@dataclass(frozen=True)
class MatchConfig:
    min_len: int = 10  # symbols a context must share to start a match (0: no match model)
    limit: int = 1 << 12  # a length bucket's counts are halved when its trials reach this


def length_bucket(length):
    """0 for no match, then 1..15 for lengths up to 15, 16..19 for longer ones (by 8s)."""
    length = np.asarray(length, dtype=np.int64)
    return np.where(length < 16, length, 16 + np.minimum((length - 16) >> 3, 3))


BUCKETS = 20


class MatchModel:
    def __init__(self, vocab_size, rows, config=MatchConfig()):
        self.cfg, self.V, self.rows = config, vocab_size, rows
        self.history = np.zeros((rows, 16), dtype=np.int64)  # grows by doubling
        self.coded = 0  # columns coded so far
        self.table = np.full(1 << TABLE_BITS, -1, dtype=np.int64)  # row << 32 | column
        self.row = np.zeros(rows, dtype=np.int64)  # where each match points
        self.col = np.zeros(rows, dtype=np.int64)
        self.length = np.zeros(rows, dtype=np.int64)  # 0: no match
        self.hits = np.ones(BUCKETS, dtype=np.int64)  # right guesses per bucket (+1)
        self.trials = np.full(BUCKETS, 2, dtype=np.int64)
        m = config.min_len
        self._powers = np.array([pow(_HASH_MUL, i, 1 << TABLE_BITS) for i in range(m)], dtype=np.int64)
        self._bucket = np.zeros(rows, dtype=np.int64)

    def predicted(self):
        """Each row's predicted symbol (-1 where there is no match)."""
        guess = self.history[self.row, np.minimum(self.col, self.coded - 1 if self.coded else 0)]
        return np.where(self.length > 0, guess, -1)

    def bucket(self):
        """Each row's match-length bucket (0: no match): for the mixer's weight sets."""
        return length_bucket(self.length)

    def predict(self):
        """(rows, V) int64 probabilities out of 2**PROB_BITS, each at least 1."""
        T, V = 1 << PROB_BITS, self.V
        self._bucket = b = self.bucket()
        top = (self.hits[b] << PROB_BITS) // self.trials[b]
        top = np.clip(top, 1, T - V)
        rest = np.maximum((T - top) // (V - 1), 1)
        p = np.repeat(rest[:, None], V, axis=1)
        guess = self.predicted()
        on = guess >= 0
        p[np.flatnonzero(on), guess[on]] = top[on]
        p[~on] = T // V
        return p

    def update(self, symbols):
        """After the column `symbols` (one per row) is coded: learn, extend or drop, look up."""
        symbols = np.asarray(symbols, dtype=np.int64)
        guess, b = self.predicted(), self._bucket
        on = guess >= 0
        right = on & (guess == symbols)
        np.add.at(self.hits, b[right], 1)
        np.add.at(self.trials, b[on], 1)
        full = self.trials >= self.cfg.limit
        self.hits[full] = (self.hits[full] + 1) >> 1
        self.trials[full] = (self.trials[full] + 1) >> 1
        self._store(symbols)
        t = self.coded
        # a right guess moves on, if what it points to next is coded already
        self.col = np.where(right, self.col + 1, self.col)
        self.length = np.where(right & (self.col < t), self.length + 1, 0)
        m = self.cfg.min_len
        if t < m:
            return
        h = self.history[:, t - m : t] @ self._powers & ((1 << TABLE_BITS) - 1)
        lost = np.flatnonzero(self.length == 0)
        found = self.table[h[lost]]
        cand = lost[found >= 0]
        found = found[found >= 0]
        if len(cand):
            r, c = found >> 32, found & 0xFFFFFFFF
            window = np.arange(-m, 0)
            same = (self.history[r[:, None], c[:, None] + window] == self.history[cand[:, None], t + window]).all(
                axis=1
            )
            self.row[cand[same]], self.col[cand[same]] = r[same], c[same]
            self.length[cand[same]] = m
        # remember where each row's context ends (one row per hash: the lowest row wins)
        h_unique, first = np.unique(h, return_index=True)
        self.table[h_unique] = (first.astype(np.int64) << 32) | t

    def _store(self, symbols):
        if self.coded == self.history.shape[1]:
            grown = np.zeros((self.rows, 2 * self.coded), dtype=np.int64)
            grown[:, : self.coded] = self.history
            self.history = grown
        self.history[:, self.coded] = symbols
        self.coded += 1
