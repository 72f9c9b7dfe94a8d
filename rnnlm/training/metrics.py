"""The metrics JSON written by `train`, `eval` and `compare` (`--metrics-json PATH`)."""

import json

from rnnlm.io.outputs import atomic_write
from rnnlm.training.divergence import diverged_at
from rnnlm.errors import UsageError
from rnnlm.training.loop import history_dicts


def train_metrics(backend_name, device_name, mcfg, tcfg, history, train_seconds, workers=1, dcfg=None, corpus=None):
    """Config, the last epoch's perplexity, validation perplexity and tokens/sec (as the book
    reports them), the best validation epoch, divergence (rnnlm.training.divergence), history."""
    last = history[-1]
    found = diverged_at([h.perplexity for h in history], mcfg.vocab_size)
    vals = [h for h in history if h.val_perplexity is not None]
    best = min(vals, key=lambda h: h.val_perplexity) if vals else None
    return {
        "backend": backend_name,
        "device": device_name,
        "model": mcfg.cell,
        "epochs": tcfg.epochs,
        "num_hiddens": mcfg.num_hiddens,
        "num_layers": mcfg.num_layers,
        "bidirectional": mcfg.bidirectional,
        "activation": mcfg.activation,
        "batch_size": tcfg.batch_size,
        "num_steps": tcfg.num_steps,
        "lr": tcfg.lr,
        "clip": tcfg.clip,
        "max_tokens": tcfg.max_tokens,
        "iter": tcfg.iter,
        "seed": tcfg.seed,
        "dtype": tcfg.dtype,
        "workers": workers,
        "perplexity": last.perplexity,
        "tokens_per_sec": last.tokens_per_sec,
        "val_perplexity": last.val_perplexity,
        "train_seconds": train_seconds,
        "val_fraction": dcfg.val_fraction if dcfg else 0.0,
        "corpus": corpus,
        "text": dcfg.text if dcfg else "book",
        "best_epoch": best.epoch if best else None,
        "best_val_perplexity": best.val_perplexity if best else None,
        "diverged": None if found is None else {"epoch": found[0], "perplexity": found[1]},
        "history": history_dicts(history),
    }


def write_json(path, obj):
    data = (json.dumps(obj, indent=2) + "\n").encode("utf-8")
    try:
        atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        raise UsageError(f"cannot write metrics '{path}': {exc.strerror}") from None
