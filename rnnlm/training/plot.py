"""`--plot PATH`: a PNG of perplexity per epoch; in a notebook, the figure itself, shown
inline. matplotlib is imported only here, and only its Figure (no pyplot, so neither the
command line nor a notebook's inline backend is switched)."""

import io

from rnnlm.errors import UsageError
from rnnlm.install import install_hint


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
    from matplotlib.ticker import FormatStrFormatter
    epochs = [h.epoch for h in history]
    fig = _inline_figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    ax.plot(epochs, [h.perplexity for h in history], label="training")
    if any(h.val_perplexity is not None for h in history):
        ax.plot(epochs, [h.val_perplexity for h in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # 12.5, not 1.25 x 10^1
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_history(path, history, title):
    try:
        history_figure(history, title).savefig(path, format="png")
    except OSError as exc:
        raise UsageError(f"cannot write plot '{path}': {exc.strerror}") from None
