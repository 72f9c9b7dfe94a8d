"""What a checkpoint may hold: its metadata and arrays checked before anything is built
from them. A checkpoint is a file from anywhere; each defect is a UsageError naming the
field, never an IndexError three calls later or a model of a billion layers.
"""

import math

import numpy as np

from rnnlm.threads import MAX_THREADS
from rnnlm.config import DTYPES, TEXT_MODES, ConfigError, ModelConfig, TrainConfig
from rnnlm.model.weights import canonical_shapes

_MODEL_FIELDS = {
    "vocab_size": int,
    "num_hiddens": int,
    "num_layers": int,
    "cell": str,
    "bidirectional": bool,
    "activation": str,
}
_HISTORY_FIELDS = {
    "epoch": int,
    "perplexity": float,
    "tokens_per_sec": float,
    "seconds": float,
    "val_perplexity": (float, type(None)),
}
# recorded since the studies (issue 21); checkpoints written before hold no such fields
_HISTORY_OPTIONAL = {"grad_norm": (float, type(None)), "clipped_fraction": (float, type(None))}


def _at_least(low, allow_inf=False):
    """A number >= low, finite (or +inf with `allow_inf`): NaN is never a measurement."""
    return lambda x: x >= low and (x < math.inf or allow_inf)


# what each recorded number may be (None where the type allows it is always fine)
_HISTORY_RANGES = {
    "epoch": _at_least(1),
    "perplexity": _at_least(1.0),
    "tokens_per_sec": _at_least(0.0),
    "seconds": _at_least(0.0),
    "val_perplexity": _at_least(1.0),
    "grad_norm": _at_least(0.0, allow_inf=True),
    "clipped_fraction": lambda x: 0.0 <= x <= 1.0,
}


class SchemaError(ValueError):
    """A field of a checkpoint that is missing, of the wrong type or out of range."""


def _is(value, kind):
    """isinstance, where bool is no int and an int is a float."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool):
        return bool in kinds
    if float in kinds and isinstance(value, int):
        return True
    return isinstance(value, kinds)


def model_config(meta, arrays):
    """The ModelConfig of `meta["model"]`, checked against the arrays' count before the
    canonical names are listed (so num_layers cannot make us loop for ever)."""
    model = meta.get("model")
    if not isinstance(model, dict):
        raise SchemaError("'model' must be an object")
    for name, kind in _MODEL_FIELDS.items():
        if name not in model:
            raise SchemaError(f"'model.{name}' is missing")
        if not _is(model[name], kind):
            raise SchemaError(f"'model.{name}' must be {kind.__name__}, got {model[name]!r}")
    if model["vocab_size"] < 1:
        raise SchemaError(f"'model.vocab_size' must be positive, got {model['vocab_size']}")
    directions = 2 if model["bidirectional"] else 1
    expected = 4 * model["num_layers"] * directions + 2 if model["num_layers"] > 0 else 0
    if expected != len(arrays):
        raise SchemaError(
            f"'model.num_layers' {model['num_layers']} needs {expected} weight arrays, the file has {len(arrays)}"
        )
    try:
        return ModelConfig.from_dict(model)
    except ConfigError as exc:
        raise SchemaError(f"'model': {exc}") from None


def vocabulary(meta, cfg):
    vocab = meta.get("vocab")
    if not isinstance(vocab, list) or not all(isinstance(t, str) and t for t in vocab):
        raise SchemaError("'vocab' must be a list of non-empty strings")
    if len(vocab) != cfg.vocab_size:
        raise SchemaError(f"'vocab' has {len(vocab)} tokens, 'model.vocab_size' says {cfg.vocab_size}")
    if vocab[0] != "<unk>" or len(set(vocab)) != len(vocab):
        raise SchemaError("'vocab' must begin with '<unk>' and hold each token once")
    return vocab


def dtype_of(meta):
    dtype = meta.get("dtype", "float32")
    if dtype not in DTYPES:
        raise SchemaError(f"'dtype' must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


def weights(cfg, arrays, dtype):
    """Every array: the canonical name and shape, the checkpoint's dtype, finite values."""
    expected = canonical_shapes(cfg)
    missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
    if missing or extra:
        raise SchemaError(f"weights do not match the model: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        a = arrays[name]
        if tuple(a.shape) != shape:
            raise SchemaError(f"weight {name} has shape {tuple(a.shape)}, expected {shape}")
        if a.dtype != np.dtype(dtype):
            raise SchemaError(f"weight {name} has dtype {a.dtype}, expected {dtype}")
        if not np.isfinite(a).all():
            raise SchemaError(f"weight {name} holds NaN or infinite values")


def text_mode(meta):
    text = meta.get("text", "book")
    if text not in TEXT_MODES:
        raise SchemaError(f"'text' must be one of {', '.join(TEXT_MODES)}, got {text!r}")
    return text


def training_state(meta):
    """What resuming reads: the training config, history, batch-order state and the rest."""
    if not isinstance(meta.get("train"), dict):
        raise SchemaError("'train' must be an object")
    try:
        TrainConfig.from_dict(meta["train"])
    except (ConfigError, TypeError) as exc:
        raise SchemaError(f"'train': {exc}") from None
    history = meta.get("history")
    if not isinstance(history, list):
        raise SchemaError("'history' must be a list")
    for i, h in enumerate(history):
        if not isinstance(h, dict) or not set(_HISTORY_FIELDS) <= set(h) <= {*_HISTORY_FIELDS, *_HISTORY_OPTIONAL}:
            raise SchemaError(
                f"'history[{i}]' must hold exactly {', '.join(_HISTORY_FIELDS)} "
                f"(and optionally {', '.join(_HISTORY_OPTIONAL)})"
            )
        for name, kind in {**_HISTORY_FIELDS, **_HISTORY_OPTIONAL}.items():
            if name in h and not _is(h[name], kind):
                raise SchemaError(f"'history[{i}].{name}' has the wrong type: {h[name]!r}")
            if h.get(name) is not None and not _HISTORY_RANGES[name](h[name]):
                raise SchemaError(f"'history[{i}].{name}' is out of range: {h[name]!r}")
        if h["epoch"] != i + 1:
            raise SchemaError(f"'history[{i}].epoch' must be {i + 1}, got {h['epoch']}")
    if meta.get("epoch") != len(history):
        raise SchemaError(f"'epoch' must equal the history's length {len(history)}")
    val = meta.get("val_fraction", 0.0)
    if not _is(val, float) or not 0.0 <= val < 1.0:
        raise SchemaError(f"'val_fraction' must be in [0, 1), got {val!r}")
    if not isinstance(meta.get("corpus"), (str, type(None))):
        raise SchemaError("'corpus' must be a path or null")
    seconds = meta.get("train_seconds", 0.0)
    if not _is(seconds, float) or not math.isfinite(seconds) or seconds < 0:
        raise SchemaError(f"'train_seconds' must be a non-negative number, got {seconds!r}")
    rng_state(meta.get("rng_state"))
    threads = meta.get("threads", 1)  # absent before thread counts were recorded
    if not _is(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise SchemaError(f"'threads' must be a thread count from 1 to {MAX_THREADS}, got {threads!r}")


def rng_state(state):
    """A PCG64 state as numpy writes it; anything else would be fed to the generator."""
    ok = (
        isinstance(state, dict)
        and state.get("bit_generator") == "PCG64"
        and isinstance(state.get("state"), dict)
        and all(_is(state["state"].get(k), int) and 0 <= state["state"][k] < 2**128 for k in ("state", "inc"))
        and state.get("has_uint32") in (0, 1)
        and not isinstance(state.get("has_uint32"), bool)
        and _is(state.get("uinteger"), int)
        and 0 <= state["uinteger"] < 2**32
    )
    if not ok:
        raise SchemaError("'rng_state' is not a PCG64 generator state")
