"""The metrics JSON written by `train`, `eval` and `compare` (`--metrics-json PATH`)."""

import json

from rnnlm.checkpoints.outputs import atomic_write
from rnnlm.errors import UsageError
from rnnlm.training.loop import history_dicts


def train_metrics(backend_name, device_name, mcfg, tcfg, history, train_seconds, workers=1):
    """Config, the last epoch's perplexity, validation perplexity and tokens/sec (as the book
    reports them), history."""
    last = history[-1]
    return {
        "backend": backend_name, "device": device_name, "model": mcfg.cell,
        "epochs": tcfg.epochs, "num_hiddens": mcfg.num_hiddens, "num_layers": mcfg.num_layers,
        "bidirectional": mcfg.bidirectional, "activation": mcfg.activation,
        "batch_size": tcfg.batch_size, "num_steps": tcfg.num_steps, "lr": tcfg.lr, "clip": tcfg.clip,
        "max_tokens": tcfg.max_tokens, "iter": tcfg.iter, "seed": tcfg.seed, "dtype": tcfg.dtype,
        "workers": workers, "perplexity": last.perplexity, "tokens_per_sec": last.tokens_per_sec,
        "val_perplexity": last.val_perplexity, "train_seconds": train_seconds,
        "history": history_dicts(history),
    }


def write_json(path, obj):
    data = (json.dumps(obj, indent=2) + "\n").encode("utf-8")
    try:
        atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        raise UsageError(f"cannot write metrics '{path}': {exc.strerror}") from None
