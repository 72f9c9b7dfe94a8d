"""Training progress: a tqdm bar on a terminal, a notebook bar (tqdm.auto's widget) in a
Jupyter or Colab kernel, plain lines every 10 epochs otherwise. The bar counts completed
epochs; in a notebook the every-10-epochs text goes into the bar's postfix, so the widget
is the one display (a line written beside a widget lands in the cell's output under it).

tqdm is imported only when a bar is shown, so `import rnnlm` stays cheap.
"""

import sys

LOG_EVERY = 10  # epochs between plain progress lines, as the book


def in_notebook():
    """True inside a Jupyter kernel (Colab's too), whose output is not a terminal."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it; nothing else should import it
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def notebook_bar(total_epochs, first_epoch):
    """tqdm.auto's widget bar, or None (plain lines) where the kernel lacks ipywidgets."""
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total_epochs, initial=first_epoch - 1, unit="epoch")
    except ImportError:
        return None


class Progress:
    def __init__(self, total_epochs, first_epoch=1, quiet=False, sample=None, stream=None):
        """`sample()` returns the text shown every LOG_EVERY epochs (the book's probe prediction)."""
        self.quiet = quiet
        self.sample = sample
        self.bar = None
        self.last_sample = None  # the notebook bar's latest probe text
        self.stream = stream = sys.stderr if stream is None else stream
        if not quiet and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total_epochs, initial=first_epoch - 1, unit="epoch", file=stream, dynamic_ncols=True)
        self.widget = False
        if self.bar is None and not quiet and in_notebook():
            self.bar = notebook_bar(total_epochs, first_epoch)
            self.widget = self.bar is not None

    def update(self, stats):
        if self.quiet:
            return
        line = None
        if stats.epoch % LOG_EVERY == 0:
            val = "" if stats.val_perplexity is None else f", val perplexity {stats.val_perplexity:.2f}"
            line = (
                f"epoch {stats.epoch}: perplexity {stats.perplexity:.1f}{val}, "
                f"{stats.tokens_per_sec:.1f} tokens/sec" + (f", {self.sample()!r}" if self.sample else "")
            )
        if self.bar is not None:
            postfix = {"ppl": f"{stats.perplexity:.2f}", "tok/s": f"{stats.tokens_per_sec:.0f}"}
            if stats.val_perplexity is not None:
                postfix["val"] = f"{stats.val_perplexity:.2f}"
            if self.widget and self.sample and line:
                self.last_sample = self.sample()
            if self.widget and self.last_sample is not None:
                postfix["sample"] = self.last_sample
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
            if line and not self.widget:
                self.bar.write(line, file=self.stream)  # above the bar, on the bar's terminal
        elif line:
            print(line, flush=True)

    def close(self, completed=None):
        """`completed`: the epochs a stopped run holds, so the bar's last count is the one
        the stop's message names (a stop can fall between an epoch's end and its count)."""
        if self.bar is not None:
            if completed is not None and completed != self.bar.n:
                self.bar.n = completed
                self.bar.refresh()
            self.bar.close()
