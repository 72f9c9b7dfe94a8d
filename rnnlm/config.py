"""Typed configuration, and the one place its defaults are written (the book's).

- `ModelConfig`: what defines a model (saved in every checkpoint);
- `TrainConfig`: how it is trained (saved in resumable checkpoints);
- `DataConfig`: which text it learns from;
- `RunOptions`: what one run writes and shows.

The command line takes its defaults from these classes; the Python API takes the same
names. Resuming replaces a config with the checkpoint's, never single attributes.
"""

from dataclasses import asdict, dataclass, fields
from typing import Optional

from rnnlm.errors import UsageError
from rnnlm import threads
from rnnlm.threads import MAX_THREADS

CELLS = ("rnn", "gru", "lstm")
ACTIVATIONS = ("tanh", "relu")
DTYPES = ("float32", "float64")
ITERATORS = ("sequential", "random")
TEXT_MODES = ("book", "raw")
RESUME_MODES = ("no", "yes", "auto")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks stacked along dim 0
MAX_LR = 1e6  # an SGD step beyond this overflows float32 weights in one step
MAX_LAYERS = 1024  # a file's layer index is checked against this before any name is listed


class ConfigError(UsageError, ValueError):
    """A setting outside its range; the message names the setting as the CLI spells it."""


def _choice(flag, value, choices):
    if value not in choices:
        raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")


def _positive(flag, value, kind=int):
    ok = isinstance(value, kind) and not isinstance(value, bool) and value > 0
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
    if not ok:
        raise ConfigError(f"{flag} must be a positive {'integer' if kind is int else 'number'}, got {value!r}")


def _non_negative(flag, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{flag} must be a non-negative integer, got {value!r}")


class _Settings:
    @classmethod
    def from_dict(cls, d):
        """An instance from a dict (a checkpoint's), ignoring keys it does not know."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]  # every subclass is a dataclass
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class ModelConfig(_Settings):
    vocab_size: int = 0  # 0 until the vocabulary is known
    num_hiddens: int = 256
    num_layers: int = 1
    cell: str = "rnn"  # rnn | gru | lstm
    bidirectional: bool = False
    activation: str = "tanh"  # vanilla RNN only; MXNet's own default would be relu

    def __post_init__(self):
        _choice("--model", self.cell, CELLS)
        _choice("--activation", self.activation, ACTIVATIONS)
        if self.cell != "rnn" and self.activation != "tanh":
            raise ConfigError(f"--activation applies to the vanilla rnn only; {self.cell} has its own gates")
        _positive("--num-hiddens", self.num_hiddens)
        _positive("--num-layers", self.num_layers)
        if self.num_layers > MAX_LAYERS:
            raise ConfigError(f"--num-layers must be at most {MAX_LAYERS}, got {self.num_layers}")
        if not isinstance(self.bidirectional, bool):
            raise ConfigError(f"bidirectional must be true or false, got {self.bidirectional!r}")
        _non_negative("vocab_size", self.vocab_size)

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def step_work(self, batch_size):
        """Multiply-adds of one recurrent step at `batch_size` (what thread counts are chosen from)."""
        return threads.step_work(batch_size, self.num_hiddens, self.vocab_size, GATES[self.cell])

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class TrainConfig(_Settings):
    epochs: int = 500
    batch_size: int = 32
    num_steps: int = 35
    lr: float = 1.0
    clip: float = 1.0
    max_tokens: int = 10000  # the book's load_data_time_machine default; 0 = whole corpus
    iter: str = "sequential"  # sequential | random
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        for flag, value in (
            ("--epochs", self.epochs),
            ("--batch-size", self.batch_size),
            ("--num-steps", self.num_steps),
        ):
            _positive(flag, value)
        _positive("--lr", self.lr, float)
        if self.lr > MAX_LR:
            raise ConfigError(f"--lr must be at most {MAX_LR:g}, got {self.lr!r}")
        _positive("--clip", self.clip, float)
        _non_negative("--max-tokens", self.max_tokens)
        _non_negative("--seed", self.seed)
        _choice("--iter", self.iter, ITERATORS)
        _choice("--dtype", self.dtype, DTYPES)


@dataclass(frozen=True)
class DataConfig:
    corpus: Optional[str] = None  # a UTF-8 file; None = the embedded Time Machine
    text: str = "book"  # book: the book's cleaning; raw: every character
    val_fraction: float = 0.0  # the last fraction of the token stream, held out

    def __post_init__(self):
        _choice("--text", self.text, TEXT_MODES)
        if not isinstance(self.val_fraction, (int, float)) or not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be at least 0 and below 1, got {self.val_fraction!r}")


@dataclass(frozen=True)
class RunOptions:
    save: Optional[str] = None  # checkpoint path
    save_every: int = 0  # epochs between checkpoints; 0 = at the end only
    resume: str = "no"  # no | yes | auto (yes if the checkpoint exists)
    plot: Optional[str] = None  # PNG of perplexity per epoch
    metrics_json: Optional[str] = None
    quiet: bool = False  # no progress, only the summary
    threads: int = 0  # 0: chosen once from the cores and the model; N: pinned
    save_best: Optional[str] = None  # checkpoint of the best validation epoch
    overwrite: bool = False  # replace a checkpoint already at --save / --save-best

    def __post_init__(self):
        _choice("--resume", self.resume, RESUME_MODES)
        _non_negative("--threads", self.threads)
        if self.threads > MAX_THREADS:
            raise ConfigError(f"--threads must be at most {MAX_THREADS}, got {self.threads}")
        _non_negative("--save-every", self.save_every)
        if not isinstance(self.overwrite, bool):
            raise ConfigError(f"overwrite must be true or false, got {self.overwrite!r}")
        if self.resume != "no" and not self.save:
            raise ConfigError("--resume needs --save PATH (the checkpoint to continue)")


def _non_negative_number(flag, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < float("inf"):
        raise ConfigError(f"{flag} must be a non-negative number, got {value!r}")


@dataclass(frozen=True)
class GenerateConfig:
    """How `predict` continues a prefix."""

    num_chars: int = 50
    temperature: float = 0.0  # 0: greedy, as the book; above 0: sample from softmax(logits / T)
    top_k: int = 0  # with a temperature: sample from the k likeliest (0: all)
    seed: int = 0  # sampling seed
    num_samples: int = 1

    def __post_init__(self):
        _non_negative("--num-chars", self.num_chars)
        _non_negative_number("--temperature", self.temperature)
        _non_negative("--top-k", self.top_k)
        _non_negative("--seed", self.seed)
        _positive("--num-samples", self.num_samples)
        if self.top_k and self.temperature == 0:
            raise ConfigError(
                "--top-k samples from the k likeliest characters: give a --temperature above 0 as well (0 is greedy)"
            )


@dataclass(frozen=True)
class EvalConfig:
    """Which text `eval` scores, and in what minibatches."""

    corpus: Optional[str] = None
    max_tokens: int = 10000
    batch_size: int = 32
    num_steps: int = 35

    def __post_init__(self):
        _non_negative("--max-tokens", self.max_tokens)
        _positive("--batch-size", self.batch_size)
        _positive("--num-steps", self.num_steps)


@dataclass(frozen=True)
class LaunchConfig:
    """The shape of a local worker group."""

    workers: int = 1
    servers: int = 1  # MXNet-style parameter servers, for engines that use them
    max_restarts: int = 0

    def __post_init__(self):
        _positive("--workers", self.workers)
        _positive("--servers", self.servers)
        _non_negative("--max-restarts", self.max_restarts)


@dataclass(frozen=True)
class TrainJob:
    """Everything `rnnlm train` was asked for, as the command line parsed it."""

    model: ModelConfig
    train: TrainConfig
    data: DataConfig
    run: RunOptions
    backend: Optional[str] = None  # None: $RNNLM_BACKEND, else the first installed
    device: str = "auto"
