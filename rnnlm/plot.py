"""`--plot PATH`: a PNG of perplexity per epoch. matplotlib (Agg) is imported only here."""

from rnnlm.errors import UsageError
from rnnlm.install import install_hint
from rnnlm.outputs import atomic_write


def require_matplotlib():
    """UsageError unless matplotlib imports (checked before training, not after)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        raise UsageError(f"--plot needs matplotlib: {install_hint('plot')}") from None


def plot_history(path, history, title):
    require_matplotlib()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter
    epochs = [h.epoch for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
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
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png"))
    except OSError as exc:
        raise UsageError(f"cannot write plot '{path}': {exc.strerror}") from None
    finally:
        plt.close(fig)
