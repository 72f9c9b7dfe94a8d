"""An order-0..N context model over the coder's vocabulary, in integers, stepped over R rows.

For each order k the last k symbols of a row select a row of counts (one per symbol); the
counts are shared by all rows, so each row learns from what every row coded before. From
order 0 up, each order's distribution interpolates its counts with the order below it
(absolute discounting, as Kneser-Ney and PPM's escapes do):

    p_k(v) = ( max(16 c_k(v) - D(c_k(v)), 0) * T  +  (sum_u D(c_k(u)) + A) * p_{k-1}(v) ) // (16 N_k + A)

with N_k the context's total count, D(c) the discount of a symbol seen c times (D1, D2, D3+:
modified Kneser-Ney's three), T = 2**PROB_BITS and p_{-1} uniform. An unseen context
(N_k = 0) passes p_{k-1} on unchanged. With update exclusion (PPM's) a coded symbol is
counted only from the highest order that already knew it up, so a lower order counts the
contexts a symbol was new in, which is what Kneser-Ney's lower orders want. Every level is returned:
the mixer weighs them. All arithmetic is integer (exact), and contexts are exact dictionary
keys (the last k symbols' bytes: no hash collisions), so encoder and decoder agree on any
machine.
"""

from dataclasses import dataclass

from typing import Any

import numpy as np

PROB_BITS = 16


@dataclass(frozen=True)
class ContextConfig:
    max_order: int = 6
    discount: int = 12  # D: out of 16 per distinct symbol (seen once)
    discount2: int = 18  # D for a symbol seen twice (0: as D), as modified Kneser-Ney's D2
    discount3: int = 22  # D for a symbol seen three times or more (0: as discount2)
    add: int = 2  # A: extra escape weight, out of 16
    limit: int = 1 << 13  # a context's counts are halved when one reaches this
    max_cells: int = 1 << 24  # contexts x vocabulary, all orders (int32: 64 MiB): the memory cap
    exclusion: int = 1  # 1: PPM's update exclusion (orders below the one that knew the symbol keep their counts)


class ContextModel:
    def __init__(self, vocab_size, rows, config=ContextConfig()):
        self.cfg, self.V, self.rows = config, vocab_size, rows
        self.K = config.max_order
        self.history = np.zeros((rows, max(self.K, 1)), dtype=np.int64)  # newest last
        # context -> slot; slot 0 is order 0. A context of order k is the integer
        # sum_{i<k} V**i + sum_{j<k} (the j-th latest symbol) V**j, distinct for every order and
        # symbols, where that stays below 2**62; else the last k symbols' bytes
        self.int_keys = (vocab_size + 1) ** (self.K + 1) < 1 << 62
        self.index = {0 if self.int_keys else b"": 0}
        if self.int_keys:  # else V**k may not fit an int64
            self._powers = vocab_size ** np.arange(max(self.K, 1), dtype=np.int64)  # newest symbol first
            self._offsets = np.cumsum(self._powers)  # sum_{i<k} V**i for k = 1..K
        self.counts = np.zeros((64, vocab_size), dtype=np.int32)
        self.cap = max(1, config.max_cells // vocab_size)
        self._keys: Any = None  # the contexts of the last `predict`, for `update`
        self._slots: Any = None
        self._counts: Any = None

    def predict(self, prev):
        """Distributions (levels, rows, V) int64, level k = orders 0..k, after each row's `prev`
        symbol; the highest order whose context was seen, per row; and the number of distinct
        symbols that context has seen."""
        K, R, V, T, cfg = self.K, self.rows, self.V, 1 << PROB_BITS, self.cfg
        if K:
            self.history[:, :-1] = self.history[:, 1:]
            self.history[:, -1] = prev
        if self.int_keys:
            contexts = np.cumsum(self.history[:, ::-1] * self._powers, axis=1)[:, :K] + self._offsets[:K]
            keys = [[0] * R] + contexts.T.tolist()
        else:
            whole = [h.tobytes() for h in self.history]  # 8 bytes per symbol, oldest first
            keys = [[b""] * R] + [[h[8 * (K - k) :] for h in whole] for k in range(1, K + 1)]
        get = self.index.get
        slots = np.array([[get(key, -1) for key in row] for row in keys], dtype=np.int64)
        self._keys, self._slots = keys, slots
        c = self.counts[np.maximum(slots, 0)].astype(np.int64)  # (K+1, R, V)
        c[slots < 0] = 0
        self._counts = c
        n = c.sum(axis=2)
        d = np.count_nonzero(c, axis=2)
        d1 = cfg.discount
        d2 = cfg.discount2 or d1
        d3 = cfg.discount3 or d2
        if d1 == d2 == d3:
            fresh = np.maximum(16 * c - d1, 0) * T
            escape = d1 * d + cfg.add
        else:
            D = np.array([0, d1, d2, d3], dtype=np.int64)[np.minimum(c, 3)]  # by count: 0, 1, 2, 3+
            fresh = np.maximum(16 * c - D, 0) * T
            escape = D.sum(axis=2) + cfg.add
        denominator = 16 * n + cfg.add
        levels = np.empty((K + 1, R, V), dtype=np.int64)
        p = np.full((R, V), T // V, dtype=np.int64)
        for k in range(K + 1):
            p = np.floor_divide(fresh[k] + escape[k][:, None] * p, denominator[k][:, None], out=levels[k])
            np.maximum(p, 1, out=p)
        seen_orders = np.where(n > 0, np.arange(K + 1)[:, None], 0)
        seen = seen_orders.max(axis=0)
        distinct = d[seen, np.arange(R)]
        return levels, seen, distinct

    def update(self, symbols):
        """Count each row's coded symbol in each of its contexts (after `predict`)."""
        symbols = np.asarray(symbols, dtype=np.int64)
        slots = self._slots
        for k, r in zip(*np.nonzero(slots < 0)):
            key = self._keys[k][r]
            slot = self.index.get(key)
            if slot is None and len(self.index) < self.cap:  # full: the context stays unseen
                slot = self.index[key] = len(self.index)
            slots[k, r] = -1 if slot is None else slot
        if len(self.index) > len(self.counts):
            grown = np.zeros((min(2 * len(self.index), self.cap), self.V), dtype=np.int32)
            grown[: len(self.counts)] = self.counts
            self.counts = grown
        ok = slots >= 0
        if self.cfg.exclusion:
            # only the orders from the highest one that had seen the symbol up learn it: the lower
            # orders then count in how many contexts a symbol is new, as Kneser-Ney's do
            knew = self._counts[:, np.arange(self.rows), symbols] > 0  # (K+1, R)
            lowest = np.where(knew, np.arange(self.K + 1)[:, None], 0).max(axis=0)
            ok &= np.arange(self.K + 1)[:, None] >= lowest[None]
        cells = slots[ok] * self.V + np.broadcast_to(symbols, slots.shape)[ok]
        flat = self.counts.reshape(-1)
        np.add.at(flat, cells, 1)
        full = np.unique(cells[flat[cells] >= self.cfg.limit] // self.V)
        if len(full):
            self.counts[full] = (self.counts[full] + 1) >> 1
