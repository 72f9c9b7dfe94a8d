"""`--plot PATH`: a PNG of perplexity per epoch; in a notebook, the figure itself, shown
inline; `rnnlm plot a.json b.json -o cmp.png`: several runs' metrics overlaid, each labelled by
the settings in which it differs from the others. matplotlib is imported only here, and only
its Figure (no pyplot, so neither the command line nor a notebook's inline backend is
switched)."""

import io
import json
import math

from rnnlm.errors import UsageError
from rnnlm.install import install_hint
from rnnlm.io.limits import loads_json, read_bounded
from rnnlm.io.outputs import atomic_write


def require_matplotlib():
    """UsageError unless matplotlib imports (checked before training, not after)."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise UsageError(f"--plot needs matplotlib: {install_hint('plot')}") from None


def _inline_figure(**kwargs):
    """A Figure that a notebook shows as a PNG by itself: without pyplot, no inline backend
    has registered Figure with IPython's display."""
    from matplotlib.figure import Figure

    class InlineFigure(Figure):
        def _repr_png_(self):
            buffer = io.BytesIO()
            self.savefig(buffer, format="png")
            return buffer.getvalue()

    return InlineFigure(**kwargs)


def history_figure(history, title):
    """A matplotlib Figure of perplexity per epoch (a notebook shows it inline)."""
    require_matplotlib()
    from rnnlm.training.figure_style import readable

    epochs = [h.epoch for h in history]
    fig = _inline_figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    ax.plot(epochs, [h.perplexity for h in history], label="training")
    if any(h.val_perplexity is not None for h in history):
        ax.plot(epochs, [h.val_perplexity for h in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    readable(ax, log_y=True, epochs=True)
    fig.tight_layout()
    return fig


def plot_history(path, history, title):
    try:
        figure = history_figure(history, title)
        atomic_write(path, lambda f: figure.savefig(f, format="png"))
    except OSError as exc:
        raise UsageError(f"cannot write plot '{path}': {exc.strerror}") from None


# settings a run's metrics JSON holds, in the order a label names them
_LABEL_KEYS = (
    "backend",
    "model",
    "num_hiddens",
    "num_layers",
    "bidirectional",
    "activation",
    "lr",
    "clip",
    "batch_size",
    "num_steps",
    "epochs",
    "max_tokens",
    "iter",
    "seed",
    "dtype",
    "workers",
    "val_fraction",
    "corpus",
    "text",
)


MAX_METRICS_BYTES = 64 << 20  # a 100,000-epoch history is about 20 MB
MAX_LABEL_CHARS = 60


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_metrics(path):
    """A metrics JSON as `train --metrics-json` writes it, checked (a file from anywhere):
    a regular file of bounded size and nesting; epochs positive integers; perplexities
    numbers (inf and NaN, a diverged run's, are read and not drawn)."""
    data = read_bounded(path, "metrics file", MAX_METRICS_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"'{path}' is not a metrics JSON file (not UTF-8)") from None
    doc = loads_json(text, f"metrics file '{path}'")
    history = doc.get("history") if isinstance(doc, dict) else None
    if not isinstance(history, list) or not history:
        raise UsageError(f"'{path}' is not a training metrics file (no 'history' list)")
    for i, h in enumerate(history):
        ok = (
            isinstance(h, dict)
            and isinstance(h.get("epoch"), int)
            and not isinstance(h.get("epoch"), bool)
            and 1 <= h["epoch"] <= 1 << 31
            and _is_number(h.get("perplexity"))
        )
        val = h.get("val_perplexity") if isinstance(h, dict) else None
        if not ok or not (val is None or _is_number(val)):
            raise UsageError(f"'{path}': history[{i}] needs an integer 'epoch' and a numeric 'perplexity'")
    return doc


def _plain(value):
    """A setting as label text: printable (a lone surrogate escaped), short."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 3] + "..."


def labels_by_difference(docs, names):
    """One label per run: the settings whose values differ between runs (file names when none do)."""
    differ = [k for k in _LABEL_KEYS if len({json.dumps(d.get(k)) for d in docs}) > 1]
    if not differ:
        return [_plain(n) for n in names]
    return [", ".join(f"{k} {_plain(d.get(k))}" for k in differ) for d in docs]


def _finite(points):
    return [(x, y) for x, y in points if y is not None and math.isfinite(y) and y > 0]


def plot_runs(path, paths):
    """Overlay the training (solid) and validation (dashed) perplexity of several runs."""
    docs = [read_metrics(p) for p in paths]
    require_matplotlib()
    from rnnlm.training.figure_style import readable

    fig = _inline_figure(figsize=(7, 4.5), dpi=100)
    ax = fig.subplots()
    for doc, label in zip(docs, labels_by_difference(docs, paths)):
        h = doc["history"]
        train = _finite((e["epoch"], e["perplexity"]) for e in h)
        (line,) = ax.plot(*(zip(*train) if train else ([], [])), label=label)
        vals = _finite((e["epoch"], e.get("val_perplexity")) for e in h)
        if vals:
            ax.plot(*zip(*vals), "--", color=line.get_color())
    ax.set_xlabel("epoch (solid: training, dashed: validation)")
    ax.set_ylabel("perplexity")
    ax.grid(True, which="both", alpha=0.3)
    readable(ax, log_y=True, epochs=True)
    fig.tight_layout()
    try:
        # tight: a legend of many runs sits under the axes (rnnlm.training.figure_style.legend)
        atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight"))
    except OSError as exc:
        raise UsageError(f"cannot write plot '{path}': {exc.strerror}") from None
    return len(docs)
