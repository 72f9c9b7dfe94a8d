"""What the studies share: one language-model run on the typed configs, the unigram
baseline, the divergence rule applied to a run, Markdown tables and figure files."""

import math
from collections import Counter

from rnnlm.training.divergence import diverged_at
from rnnlm.errors import UsageError
from rnnlm.io.outputs import atomic_write

NO_CLIP = 1e300  # "no clipping": a threshold no gradient norm reaches (the config wants a number)


def lm_run(backend, model, train, data):
    """Train rnnlm's concise model on `model`/`train`/`data` settings (dicts of the typed
    configs' fields) with one pinned thread; a non-finite loss ends the run, recorded, not
    raised. Returns {history, vocab_size, diverged, stopped, tokens_per_sec, ...}."""
    from rnnlm.api import start_training
    from rnnlm.config import DataConfig, ModelConfig, RunOptions, TrainConfig
    from rnnlm.errors import TrainingDiverged

    run = start_training(
        ModelConfig(**model),
        TrainConfig(**train),
        DataConfig(**data),
        RunOptions(quiet=True, threads=1),
        backend=backend,
        device="cpu",
    )
    stopped = None
    try:
        run.run()
    except TrainingDiverged as exc:
        stopped = {"epoch": exc.epoch, "perplexity": _num(exc.perplexity)}
    history = [{k: (_num(v) if isinstance(v, float) else v) for k, v in vars(h).items()} for h in run.history]
    vocab = run.mcfg.vocab_size
    found = diverged_at([h["perplexity"] for h in history] + ([math.inf] if stopped else []), vocab)
    return {
        "history": history,
        "vocab_size": vocab,
        "stopped": stopped,
        "diverged": None if found is None else {"epoch": found[0], "perplexity": _num(found[1])},
        "train_tokens": int(len(run.corpus)),
        "unigram_perplexity": unigram_perplexity(run.corpus),
        "tokens_per_sec": _median([h["tokens_per_sec"] for h in history]),
    }


def unigram_perplexity(ids):
    """The perplexity of a model that knows only the characters' frequencies in `ids`."""
    counts = Counter(int(i) for i in ids)
    n = sum(counts.values())
    return math.exp(-sum(c / n * math.log(c / n) for c in counts.values()))


def _median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


def _num(x):
    """A float JSON can hold (inf and NaN as strings)."""
    return x if x is not None and math.isfinite(x) else str(x)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(x, digits=4):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}g}"


def new_figure(ncols=1, nrows=1, width=6.0, height=4.0):
    from rnnlm.training.plot import require_matplotlib

    require_matplotlib()
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), dpi=100, squeeze=False)


def save_figure(fig, path):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:  # tight: a legend under its axes (rnnlm.training.figure_style.legend) is kept whole
        atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight", metadata={"Software": None}))
    except OSError as exc:
        raise UsageError(f"cannot write figure '{path}': {exc.strerror}") from None
    finally:
        plt.close(fig)


__all__ = ["diverged_at", "lm_run", "unigram_perplexity", "table", "fmt", "new_figure", "save_figure"]
