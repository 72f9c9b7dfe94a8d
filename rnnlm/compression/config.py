"""The settings of `rnnlm compress`, each validated once, where it is built: `CompressConfig`
(what the user chooses) and `OnlineConfig` (the `--online` model and learning rule, which a
file's settings carry too). The command line takes its defaults and choices from here, the
API the same names, and a decoder the same limits for what a file claims.
"""

from dataclasses import dataclass, field
from typing import Optional

from rnnlm.config import CELLS, ConfigError, ModelConfig, _choice, _non_negative, _positive
from rnnlm.threads import MAX_THREADS, coding_choice

MODES = ("checkpoint", "online")
# the RNN mixed with the context model; the better of that and the context model alone (for short
# texts, where a young RNN costs more than it brings; the file records which); the RNN alone;
# the context model alone
MIX_CHOICES = ("auto", "both", "rnn", "context")
AUTO_MAX_CHARS = 1 << 16  # auto codes texts up to this long both ways and keeps the smaller
AUTO_ROW_CHARS = 4096  # ... the context model alone in rows of at least this many characters
# (on four 3-12 kB texts 32 rows cost 0.06 bits/char more than 4)
AUTO_ALONE_CHARS = 8192  # ... and below this, the context model alone only: on every text under
# 16 kB tried it beat the mix, and no framework need load (start-up)
OPTIMIZERS = ("adam", "sgd")
LAGS = (0, 1)
DEFAULT_SEGMENTS = 32  # rows of the batch the text is cut into, in both modes
MAX_SEGMENTS = 1 << 16

# an --online model is trained while coding, on a thread or two: beyond these, hours per
# megabyte; a file's settings that claim more are refused, not run
ONLINE_MAX_VOCAB = 1024  # an --online vocabulary keeps the file's commonest characters
ONLINE_MAX_HIDDENS = 1024
ONLINE_MAX_LAYERS = 4
ONLINE_MAX_CHUNK = 1024
ONLINE_MAX_REPLAY = 8
ONLINE_MAX_REPLAY_CHARS = 1 << 14


@dataclass(frozen=True)
class OnlineConfig:
    """The model and learning rule of `--online`. Defaults picked on the raw Time Machine's
    first 40,000 characters (GRU beat LSTM; lr 0.01 beat 0.003 and 0.02; one replay step of
    32 windows x 32 characters per chunk cut 3.29 to 2.94 bits/char). `lag` 1 trains on a
    worker thread a chunk late (`compression.predictor.Predictor`): the same bits whatever
    the threads' timing, 1.5-1.9x the speed of training in line on 2 cores."""

    cell: str = "gru"
    num_hiddens: int = 256
    num_layers: int = 1
    seed: int = 0
    optimizer: str = "adam"
    lr: float = 0.01
    clip: float = 1.0
    chunk: int = 16  # coding steps between training steps (truncated BPTT length)
    replay: int = 1  # extra training steps after each chunk, on windows of the coded text
    replay_batch: int = 32  # windows per replay step
    replay_len: int = 32  # characters per window (each from a zero state)
    lag: int = 1  # 1: train on a worker thread, a chunk late; 0: in line (see compression.predictor)

    def __post_init__(self):
        """The command line's checks and the limits a file's settings must keep: a file
        claiming 8192 hidden units or 1e9 replay steps is refused, not run for hours."""
        _choice("--model", self.cell, CELLS)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _non_negative("--seed", self.seed)
        _positive("lr", self.lr, float)
        _positive("clip", self.clip, float)
        for flag, value in (
            ("--num-hiddens", self.num_hiddens),
            ("num_layers", self.num_layers),
            ("chunk", self.chunk),
            ("replay_batch", self.replay_batch),
            ("replay_len", self.replay_len),
        ):
            _positive(flag, value)
        _non_negative("replay", self.replay)
        if type(self.lag) is not int or self.lag not in LAGS:
            raise ConfigError(f"lag must be one of {', '.join(map(str, LAGS))}, got {self.lag!r}")
        for flag, value, limit in (
            ("--num-hiddens", self.num_hiddens, ONLINE_MAX_HIDDENS),
            ("num_layers", self.num_layers, ONLINE_MAX_LAYERS),
            ("chunk", self.chunk, ONLINE_MAX_CHUNK),
            ("replay", self.replay, ONLINE_MAX_REPLAY),
            ("replay_batch x replay_len", self.replay_batch * self.replay_len, ONLINE_MAX_REPLAY_CHARS),
        ):
            if value > limit:
                raise ConfigError(f"{flag} must be at most {limit} for --online, got {value}")

    def model_config(self, vocab_size):
        """The ModelConfig of this online model over `vocab_size` tokens."""
        return ModelConfig(
            vocab_size=vocab_size, num_hiddens=self.num_hiddens, num_layers=self.num_layers, cell=self.cell
        )


@dataclass(frozen=True)
class CompressConfig:
    """How `compress` codes: with a checkpoint or `online`, in `segments` rows, with `threads`
    framework threads (None: `rnnlm.threads.coding_choice`'s default; the file records the
    count the backend really computes with), `mix` (see MIX_CHOICES), on `backend` (None:
    $RNNLM_BACKEND, else the first installed training backend)."""

    mode: str = "online"
    segments: int = DEFAULT_SEGMENTS
    threads: Optional[int] = None
    mix: str = "auto"
    online: OnlineConfig = field(default_factory=OnlineConfig)
    backend: Optional[str] = None

    def __post_init__(self):
        _choice("mode", self.mode, MODES)
        _positive("--segments", self.segments)
        if self.segments > MAX_SEGMENTS:
            raise ConfigError(f"--segments must be at most {MAX_SEGMENTS}, got {self.segments}")
        if self.threads is not None and (type(self.threads) is not int or not 1 <= self.threads <= MAX_THREADS):
            raise ConfigError(f"--threads must be from 1 to {MAX_THREADS}, got {self.threads!r}")
        _choice("--mix", self.mix, MIX_CHOICES)
        if self.mix == "context" and self.mode != "online":
            raise ConfigError("--mix context codes with the context model alone: use it with --online")
        if not isinstance(self.online, OnlineConfig):
            raise ConfigError(f"online must be an OnlineConfig, got {type(self.online).__name__}")
        if self.backend is not None:
            from rnnlm.backend import check_name  # the registry's names (imports no framework)

            check_name(self.backend, training=True)  # coding steps the model; online trains it

    @staticmethod
    def from_options(online=False, **options):
        """From the command line's names (`segments`, `threads`, `mix`, `backend`, and the
        --online model's `model`, `num_hiddens`, `seed`); None keeps a default; an unknown name
        is a UsageError listing the known ones."""
        known = ("segments", "threads", "mix", "backend", "model", "num_hiddens", "seed")
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"unknown setting '{unknown[0]}' (choose from: {', '.join(known)})")
        given = {k: v for k, v in options.items() if v is not None}
        model = {"cell": given.pop("model")} if "model" in given else {}
        model.update({k: given.pop(k) for k in ("num_hiddens", "seed") if k in given})
        return CompressConfig(mode="online" if online else "checkpoint", online=OnlineConfig(**model), **given)

    @property
    def thread_count(self):
        """The count asked of the backend (what it computes with may differ: see pipeline)."""
        return coding_choice(self.threads or 0, online=self.mode == "online").count
