"""Typed configuration: what defines a model, and how it is trained (the book's defaults)."""

from dataclasses import asdict, dataclass, fields

CELLS = ("rnn", "gru", "lstm")
ACTIVATIONS = ("tanh", "relu")
DTYPES = ("float32", "float64")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight blocks stacked along dim 0


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    num_hiddens: int = 256
    num_layers: int = 1
    cell: str = "rnn"            # rnn | gru | lstm
    bidirectional: bool = False
    activation: str = "tanh"     # vanilla RNN only; MXNet's own default would be relu

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainConfig:
    epochs: int = 500
    batch_size: int = 32
    num_steps: int = 35
    lr: float = 1.0
    clip: float = 1.0
    max_tokens: int = 10000      # the book's load_data_time_machine default; 0 = whole corpus
    iter: str = "sequential"     # sequential | random
    seed: int = 0
    dtype: str = "float32"
