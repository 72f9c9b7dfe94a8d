"""What a stored run of each study may hold (rnnlm.study.store): every key, its type and its
range. A run file is a file from anywhere: one missing a key, retyped, or holding a forged
perplexity (NaN, negative, a string) would otherwise end a report in a KeyError or change
its answer. A file that fails is run again and replaced, as a truncated one is.

A perplexity is at least 1 and may be +inf (a diverged epoch) or, as `common._num` writes
non-finite numbers, the string "inf" or "nan"; every other number is finite.
"""

import math

MAX_ITEMS = 100_000  # per list: the longest (autoregressive's predictions) holds about 1,000


class RunSchemaError(ValueError):
    """A stored result that is not what the study writes; the message names the field."""


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def real(lo=0.0, hi=math.inf):
    def check(value, where):
        if not _number(value) or not math.isfinite(value) or not lo <= value <= hi:
            raise RunSchemaError(f"{where} must be a finite number in [{lo}, {hi}], got {value!r}")

    return check


def integer(lo=0):
    def check(value, where):
        if not isinstance(value, int) or isinstance(value, bool) or value < lo:
            raise RunSchemaError(f"{where} must be an integer of at least {lo}, got {value!r}")

    return check


def perplexity(value, where):
    if value in ("inf", "nan") or (_number(value) and (value == math.inf or 1.0 <= value < math.inf)):
        return
    raise RunSchemaError(f"{where} must be a perplexity (at least 1, inf or 'nan'), got {value!r}")


def norm(value, where):
    """A gradient norm: non-negative, and inf or NaN (as a float or a string) once a run diverges."""
    if value in ("inf", "nan") or (_number(value) and (math.isnan(value) or value >= 0)):
        return
    raise RunSchemaError(f"{where} must be a non-negative norm, got {value!r}")


def optional(inner):
    def check(value, where):
        if value is not None:
            inner(value, where)

    return check


def items(inner, min_items=0):
    def check(value, where):
        if not isinstance(value, list) or not min_items <= len(value) <= MAX_ITEMS:
            raise RunSchemaError(f"{where} must be a list of {min_items} to {MAX_ITEMS} items")
        for i, v in enumerate(value):
            inner(v, f"{where}[{i}]")

    return check


def record(required, optional_keys=None, extra=False):
    """A JSON object with exactly these keys (`extra`: others allowed, unchecked)."""
    optional_keys = optional_keys or {}

    def check(value, where):
        if not isinstance(value, dict):
            raise RunSchemaError(f"{where} must be an object")
        missing = sorted(set(required) - set(value))
        unknown = sorted(set(value) - set(required) - set(optional_keys))
        if missing or (unknown and not extra):
            raise RunSchemaError(f"{where}: missing {missing}, unexpected {unknown[:5]}")
        for key, inner in {**required, **optional_keys}.items():
            if key in value:
                inner(value[key], f"{where}.{key}")

    return check


def keyed(inner):
    """An object of any string keys, each value `inner`."""

    def check(value, where):
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            raise RunSchemaError(f"{where} must be an object")
        for key, v in value.items():
            inner(v, f"{where}.{key}")

    return check


_POSITIVE, _SECONDS = real(), real()
_EPOCH = record(
    {"epoch": integer(1), "perplexity": perplexity, "tokens_per_sec": _POSITIVE},
    {
        "seconds": _SECONDS,
        "val_perplexity": optional(perplexity),
        "grad_norm": optional(norm),
        "clipped_fraction": optional(real(0.0, 1.0)),
    },
)
_WHERE = optional(record({"epoch": integer(1), "perplexity": perplexity}))
_WALL = {"wall_seconds": _SECONDS}  # added by the grid as the run ends

LM_RUN = record(
    {
        "history": items(_EPOCH),
        "vocab_size": integer(1),
        "stopped": _WHERE,
        "diverged": _WHERE,
        "train_tokens": integer(0),
        "unigram_perplexity": real(1.0),
        "tokens_per_sec": optional(_POSITIVE),
    },
    _WALL,
)
SCRATCH = record(
    {
        "history": items(_EPOCH, 1),
        "vocab_size": integer(1),
        "diverged": _WHERE,
        "perplexity": perplexity,
        "tokens_per_sec": _POSITIVE,
    },
    _WALL,
)
_SERIES = items(real(-math.inf))
_MSE = real()
AUTOREGRESSIVE = record(
    {
        "train_loss": items(_MSE, 1),
        "final_train_mse": _MSE,
        "onestep_test_mse": _MSE,
        "multistep_mse": _MSE,
        "onestep": _SERIES,
        "multistep": _SERIES,
        "kstep": keyed(record({"mse": _MSE, "test_mse": _MSE, "pred": _SERIES})),
        "noise_variance": _MSE,
    },
    _WALL,
)
_SIZE = record(
    {
        "chars": integer(0),
        "bytes": integer(0),
        "rnnlm": integer(0),
        "rnnlm_ideal_bits": real(),
        "rnnlm_seconds": _SECONDS,
        "bzip2": integer(0),
        "bzip2_seconds": _SECONDS,
        "xz": integer(0),
        "xz_seconds": _SECONDS,
    }
)
COMPRESS = record(
    {
        "sizes": items(_SIZE, 1),
        "model_weights_bytes": integer(0),
        "model_xz_bytes": integer(0),
        "checkpoint_bytes": integer(0),
        "train_seconds": _SECONDS,
        "val_perplexity": optional(perplexity),
        "perplexity": perplexity,
    },
    _WALL,
)

RESULTS = {
    "scratch": SCRATCH,
    "overfit": LM_RUN,
    "depth": LM_RUN,
    "autoregressive": AUTOREGRESSIVE,
    "compress": COMPRESS,
}


def check_result(study, result):
    """RunSchemaError unless `result` is what study `study` stores for one run."""
    RESULTS[study](result, "result")
