"""The column coder: the text as R rows of token ids, coded one column at a time under the
distributions a predictor (`rnnlm.compression.predictor`) gives, by the range coder.

The text is cut into R segments of equal length L (the last may be shorter), coded as the
R rows of one batch:

    row 0:  text[0    : L ]   t = 0 1 2 ... L-1   each step: one batched forward of the
    row 1:  text[L    : 2L]                       R rows' previous characters gives R
    ...                                           distributions; the coder codes the R
    row R-1: text[(R-1)L : n]                     characters of column t under them.

The decoder can only step one character at a time, so the encoder steps exactly as it does:
same operation, same shapes, same thread count, hence bit-identical probabilities. A
character outside the model's vocabulary is coded as `<unk>`, then by `entropy.Fallback`.

With a checkpoint the model is fixed. `--online` starts from the seeded initial weights and
learns while coding: after every `chunk` steps, one training step (Adam, clipped) on the
R x chunk characters just coded, from the state the chunk began with (by default on a worker
thread, a chunk late: `rnnlm.compression.predictor`); the decoder, having decoded the same
characters, takes the same step. What the decoder must match to compute the
same floats (backend, framework and NumPy versions, dtype, thread count, model and learning
settings) travels in the file's settings and is checked before decoding.
"""

import numpy as np

from rnnlm.compression.config import ONLINE_MAX_VOCAB
from rnnlm.compression.entropy import SymbolDecoder, SymbolEncoder
from rnnlm.data.vocab import Vocab


# ---- the text as token ids ---------------------------------------------------------------


def char_ids(text, vocab):
    """Token ids of each character of `text` (`<unk>`, 0, for those `vocab` lacks)."""
    table = {t: i for i, t in enumerate(vocab.idx_to_token) if len(t) == 1}
    return np.fromiter((table.get(c, 0) for c in text), dtype=np.int64, count=len(text))


def online_vocab(text, by_code_point=False):
    """The vocabulary of `--online`: the file's characters, commonest first, as `Vocab` orders
    them, at most ONLINE_MAX_VOCAB of them (the rest escape); `by_code_point`: the same ones in
    code point order (cheaper in the header; the order matters only to a model)."""
    tokens = Vocab(list(text)).idx_to_token[:ONLINE_MAX_VOCAB]
    if by_code_point:
        tokens = tokens[:1] + sorted(tokens[1:])
    return Vocab.from_tokens_list(tokens)


def layout(n, segments):
    """(rows, segment length) for n characters cut into at most `segments` segments."""
    if n == 0:
        return 0, 0
    length = -(-n // segments)
    return -(-n // length), length


def _shifted(grid):
    """Each step's input: the previous character of the row (`<unk>` before the first)."""
    inputs = np.zeros_like(grid)
    inputs[:, 1:] = grid[:, :-1]
    return inputs


def close(predictor):
    """Let a predictor stop what it runs beside the coder (an --online learner's thread)."""
    stop = getattr(predictor, "close", None)
    if stop is not None:
        stop()


def _column_done(predictor, t, inputs, grid, active, checks, progress, done, coder):
    """After column t, on both sides: the predictor learns, the checksum runs, the bar moves."""
    predictor.after_step(t, inputs, grid)
    if checks is not None:
        checks.after_column(t, grid[:active, t])
    if progress is not None:
        progress(done, coder.total_ideal_bits())


def encode(text, vocab, predictor_factory, segments, checks=None, progress=None):
    """(uint32 words, ideal bits) of `text`; `checks` (a ColumnChecks) records checksums,
    `progress(chars done, ideal bits)` is called after each column."""
    n = len(text)
    rows, length = layout(n, segments)
    coder = SymbolEncoder()
    if n == 0:
        return coder.words(), 0.0
    grid = np.zeros(rows * length, dtype=np.int64)
    grid[:n] = char_ids(text, vocab)
    grid = grid.reshape(rows, length)
    real = np.zeros(rows * length, dtype=bool)
    real[:n] = True
    escapes = (grid == 0) & real.reshape(rows, length)
    inputs, last_len = _shifted(grid), n - (rows - 1) * length
    predictor = predictor_factory(rows)
    try:
        for t in range(length):
            p = predictor.probs(inputs[:, t])
            active = rows if t < last_len else rows - 1
            coder.encode(grid[:active, t], p[:active])
            for r in np.flatnonzero(escapes[:active, t]):
                coder.escape(ord(text[r * length + t]))
            _column_done(predictor, t, inputs, grid, active, checks, progress, min(n, (t + 1) * rows), coder)
    finally:
        close(predictor)
    return coder.words(), coder.total_ideal_bits()


def decode(words, n, vocab, predictor_factory, segments, checks=None, progress=None):
    """(text, ideal bits) from the words `encode` wrote; `checks` (a ColumnChecks holding the
    recorded values) raises Diverged at the first mismatch."""
    rows, length = layout(n, segments)
    coder = SymbolDecoder(words)
    if n == 0:
        return "", 0.0
    grid = np.zeros((rows, length), dtype=np.int64)
    inputs = np.zeros_like(grid)
    chars = np.zeros((rows, length), dtype=np.int64)  # code points
    tokens = np.array([ord(t) if len(t) == 1 else -1 for t in vocab.idx_to_token], dtype=np.int64)
    last_len = n - (rows - 1) * length
    predictor = predictor_factory(rows)
    try:
        for t in range(length):
            p = predictor.probs(inputs[:, t])
            active = rows if t < last_len else rows - 1
            grid[:active, t] = coder.decode(p[:active])
            chars[:active, t] = tokens[grid[:active, t]]
            for r in np.flatnonzero(grid[:active, t] == 0):
                chars[r, t] = coder.unescape()
            if t + 1 < length:
                inputs[:, t + 1] = grid[:, t]
            _column_done(predictor, t, inputs, grid, active, checks, progress, min(n, (t + 1) * rows), coder)
    finally:
        close(predictor)
    return "".join(map(chr, chars.reshape(-1)[:n].tolist())), coder.total_ideal_bits()


# Names scripts outside rnnlm/compression import from here (benchmarks/threads_portability.py,
# tests/test_hostile_files.py); each lives in the module named, this is not a second copy.
from rnnlm.compression.checksums import CHECK_EVERY, ColumnChecks, Diverged  # noqa: E402,F401
from rnnlm.compression.config import OnlineConfig  # noqa: E402,F401
from rnnlm.compression.environment import environment as _environment, platform_tag  # noqa: E402,F401
from rnnlm.compression.predictor import online_factory as _online_factory  # noqa: E402
from rnnlm.threads import CODING_THREADS  # noqa: E402


def environment(backend, threads=CODING_THREADS):
    return _environment(backend, threads)


def online_factory(backend, mcfg, ocfg, threads=CODING_THREADS):
    return _online_factory(backend, mcfg, ocfg, threads)


def online_model_config(ocfg, vocab_size):
    return ocfg.model_config(vocab_size)
