"""Lossless text compression with the language model: the model predicts, a range coder codes.

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
R x chunk characters just coded, from the state the chunk began with; the decoder, having
decoded the same characters, takes the same step. What the decoder must match to compute the
same floats (backend, framework and NumPy versions, dtype, thread count, model and learning
settings) travels in the file's settings and is checked before decoding.
"""

import platform
import zlib
from dataclasses import asdict, dataclass

from typing import Any

import numpy as np

from rnnlm.backend import build_model
from rnnlm.config import ConfigError, ModelConfig, _choice, _non_negative, _positive
from rnnlm.compression.entropy import SymbolDecoder, SymbolEncoder, model_probs
from rnnlm.errors import UsageError
from rnnlm.data.vocab import Vocab
from rnnlm.model.weights import init_weights

CODING_REVISION = 3      # bump whenever the computation that produces probabilities changes
THREADS = 2              # the default pin while coding (the whole book, online: 2.6 kB/s, 1: 2.3);
                         # the file records the count, and its decoder computes with the same
MAX_THREADS = 64         # a recorded count beyond this is not a count (files are hostile)
DTYPE = "float32"
ONLINE_MAX_VOCAB = 1024  # an --online vocabulary keeps the file's commonest characters
# an --online model is trained while coding, on a thread or two: beyond these, hours per megabyte
ONLINE_MAX_HIDDENS = 1024
ONLINE_MAX_LAYERS = 4
ONLINE_MAX_CHUNK = 1024
ONLINE_MAX_REPLAY = 8
ONLINE_MAX_REPLAY_CHARS = 1 << 14

CHECK_EVERY = 2048       # columns between the checksums a decoder verifies as it goes


class Diverged(Exception):
    """The decoder's symbols so far differ from the encoder's (a checksum mismatch)."""

    def __init__(self, column, rows):
        super().__init__(column)
        self.column, self.rows = column, rows


class ColumnChecks:
    """A running CRC32 of the coded symbols, column by column; every CHECK_EVERY columns its low
    16 bits are recorded (encoder) or compared with the recorded ones (decoder), so a decoder
    whose probabilities drift stops within CHECK_EVERY columns instead of emitting garbage."""

    def __init__(self, recorded=None):
        self.recorded = recorded
        self.values: Any = [] if recorded is None else None
        self.crc = 0

    def after_column(self, t, column):
        self.crc = zlib.crc32(np.ascontiguousarray(column, dtype="<i4").tobytes(), self.crc)
        if (t + 1) % CHECK_EVERY:
            return
        value = self.crc & 0xFFFF
        if self.recorded is None:
            self.values.append(value)
        else:
            i = (t + 1) // CHECK_EVERY - 1
            if i < len(self.recorded) and self.recorded[i] != value:
                raise Diverged(t + 1 - CHECK_EVERY, len(column))


@dataclass(frozen=True)
class OnlineConfig:
    """The model and learning rule of `--online`. Defaults picked on the raw Time Machine's
    first 40,000 characters (GRU beat LSTM; lr 0.01 beat 0.003 and 0.02; one replay step of
    32 windows x 32 characters per chunk cut 3.29 to 2.94 bits/char)."""
    cell: str = "gru"
    num_hiddens: int = 256
    num_layers: int = 1
    seed: int = 0
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float = 1.0
    chunk: int = 16          # coding steps between training steps (truncated BPTT length)
    replay: int = 1          # extra training steps after each chunk, on windows of the coded text
    replay_batch: int = 32   # windows per replay step
    replay_len: int = 32     # characters per window (each from a zero state)

    def __post_init__(self):
        """The command line's checks and the limits a container's settings must keep: a file
        claiming 8192 hidden units or 1e9 replay steps is refused, not run for hours."""
        _choice("--model", self.cell, ("rnn", "gru", "lstm"))
        _choice("optimizer", self.optimizer, ("adam", "sgd"))
        _non_negative("--seed", self.seed)
        _positive("lr", self.lr, float)
        _positive("clip", self.clip, float)
        for flag, value in (("--num-hiddens", self.num_hiddens), ("num_layers", self.num_layers),
                            ("chunk", self.chunk), ("replay_batch", self.replay_batch),
                            ("replay_len", self.replay_len)):
            _positive(flag, value)
        _non_negative("replay", self.replay)
        for flag, value, limit in (("--num-hiddens", self.num_hiddens, ONLINE_MAX_HIDDENS),
                                   ("num_layers", self.num_layers, ONLINE_MAX_LAYERS),
                                   ("chunk", self.chunk, ONLINE_MAX_CHUNK),
                                   ("replay", self.replay, ONLINE_MAX_REPLAY),
                                   ("replay_batch x replay_len", self.replay_batch * self.replay_len,
                                    ONLINE_MAX_REPLAY_CHARS)):
            if value > limit:
                raise ConfigError(f"{flag} must be at most {limit} for --online, got {value}")


# ---- the text as token ids ---------------------------------------------------------------

def char_ids(text, vocab):
    """Token ids of each character of `text` (`<unk>`, 0, for those `vocab` lacks)."""
    table = {t: i for i, t in enumerate(vocab.idx_to_token) if len(t) == 1}
    return np.fromiter((table.get(c, 0) for c in text), dtype=np.int64, count=len(text))


def online_vocab(text):
    """The vocabulary of `--online`: the file's characters, commonest first, as `Vocab` orders
    them, at most ONLINE_MAX_VOCAB of them (the rest escape)."""
    tokens = Vocab(list(text)).idx_to_token[:ONLINE_MAX_VOCAB]
    return Vocab.from_tokens_list(tokens)


def layout(n, segments):
    """(rows, segment length) for n characters cut into at most `segments` segments."""
    if n == 0:
        return 0, 0
    length = -(-n // segments)
    return -(-n // length), length


# ---- the model side: identical in both directions ---------------------------------------

class Predictor:
    """Steps a model over R rows one column at a time; with `online`, learns every chunk."""

    def __init__(self, backend, model, rows, online=None):
        self.backend, self.model, self.online = backend, model, online
        self.state = self.chunk_start = backend.begin_state(model, rows)
        if online is not None:
            self.optimizer = backend.make_optimizer(model, online.lr, online.optimizer)
            self.rng = np.random.default_rng([online.seed, 0xC0DE])  # replay windows

    def probs(self, prev):
        """Distributions of the next character of every row, given each row's last one."""
        logits, self.state = self.backend.forward(self.model, prev[:, None], self.state)
        return model_probs(logits)

    def after_step(self, t, inputs, targets):
        """Called after column t is coded: every `chunk` columns, learn on the chunk."""
        if self.online is None or (t + 1) % self.online.chunk:
            return
        b = self.backend
        lo = t + 1 - self.online.chunk
        state, _, _ = b.train_step(self.model, self.optimizer, b.detach_state(self.chunk_start),
                                inputs[:, lo:t + 1], targets[:, lo:t + 1], self.online.clip)
        self.state = self.chunk_start = b.detach_state(state)
        self._replay(t + 1, inputs, targets)

    def _replay(self, coded, inputs, targets):
        """More steps on random windows of the `coded` columns: the history, learned again."""
        o, b = self.online, self.backend
        if not o.replay or coded < o.replay_len:
            return
        rows = inputs.shape[0]
        cols = np.arange(o.replay_len)
        for _ in range(o.replay):
            r = self.rng.integers(0, rows, o.replay_batch)
            c = self.rng.integers(0, coded - o.replay_len + 1, o.replay_batch)[:, None] + cols
            b.train_step(self.model, self.optimizer, b.begin_state(self.model, o.replay_batch),
                         inputs[r[:, None], c], targets[r[:, None], c], o.clip)


def _shifted(grid):
    """Each step's input: the previous character of the row (`<unk>` before the first)."""
    inputs = np.zeros_like(grid)
    inputs[:, 1:] = grid[:, :-1]
    return inputs


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
    for t in range(length):
        p = predictor.probs(inputs[:, t])
        active = rows if t < last_len else rows - 1
        coder.encode(grid[:active, t], p[:active])
        for r in np.flatnonzero(escapes[:active, t]):
            coder.escape(ord(text[r * length + t]))
        predictor.after_step(t, inputs, grid)
        if checks is not None:
            checks.after_column(t, grid[:active, t])
        if progress is not None:
            progress(min(n, (t + 1) * rows), coder.total_ideal_bits())
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
    for t in range(length):
        p = predictor.probs(inputs[:, t])
        active = rows if t < last_len else rows - 1
        grid[:active, t] = coder.decode(p[:active])
        chars[:active, t] = tokens[grid[:active, t]]
        for r in np.flatnonzero(grid[:active, t] == 0):
            chars[r, t] = coder.unescape()
        if t + 1 < length:
            inputs[:, t + 1] = grid[:, t]
        predictor.after_step(t, inputs, grid)
        if checks is not None:
            checks.after_column(t, grid[:active, t])
        if progress is not None:
            progress(min(n, (t + 1) * rows), coder.total_ideal_bits())
    return "".join(map(chr, chars.reshape(-1)[:n].tolist())), coder.total_ideal_bits()


# ---- what the decoder must match ---------------------------------------------------------

def environment(backend, threads=THREADS):
    """The settings that fix the floats. The decoder refuses to run unless the versions match;
    `threads`, the count the framework computes with while coding (results depend on it, the
    machine's load never changes it), it reproduces instead, on any number of cores."""
    return {"backend": backend.NAME, "framework": backend.framework_version(),
            "numpy": np.__version__, "dtype": DTYPE, "threads": threads,
            "revision": CODING_REVISION}


def platform_tag():
    """The machine, for a warning only: another CPU may round differently (the CRC will tell)."""
    return platform.machine()


def check_environment(settings, backend, name):
    """The file's thread count; a UsageError naming the first setting this machine cannot
    reproduce."""
    threads = settings.get("threads")
    if type(threads) is not int or not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"'{name}' is corrupt (bad thread count {threads!r})")
    have = environment(backend, threads)
    want = {k: settings.get(k) for k in have}
    if want["backend"] != have["backend"]:
        raise UsageError(f"'{name}' was coded with backend {want['backend']}; decode it with "
                         f"--backend {want['backend']}")
    for key, label in (("revision", "rnnlm coding revision"), ("framework", f"{backend.NAME}"),
                       ("numpy", "numpy"), ("dtype", "dtype")):
        if want[key] != have[key]:
            raise UsageError(f"'{name}' was coded with {label} {want[key]}, this machine has "
                             f"{have[key]}: decoding needs the same to reproduce the probabilities")
    return threads


def checkpoint_factory(backend, mcfg, weights, threads=THREADS):
    """Rows -> a Predictor over the checkpoint's model, on the CPU, threads pinned."""
    def make(rows):
        model = build_model(backend, mcfg, backend.resolve_device("cpu"), DTYPE,
                            {k: np.asarray(v, dtype=DTYPE) for k, v in weights.items()})
        backend.set_num_threads(threads)  # after building: the torch model claims every core
        return Predictor(backend, model, rows)
    return make


def online_factory(backend, mcfg, ocfg, threads=THREADS):
    """Rows -> a Predictor over the seeded initial weights that learns as it codes."""
    def make(rows):
        model = build_model(backend, mcfg, backend.resolve_device("cpu"), DTYPE,
                            init_weights(mcfg, ocfg.seed, DTYPE))
        backend.set_num_threads(threads)
        return Predictor(backend, model, rows, ocfg)
    return make


def online_model_config(ocfg, vocab_size):
    return ModelConfig(vocab_size=vocab_size, num_hiddens=ocfg.num_hiddens,
                       num_layers=ocfg.num_layers, cell=ocfg.cell)


def online_settings(ocfg, vocab):
    return {"online": asdict(ocfg), "vocab": "".join(vocab.idx_to_token[1:])}
