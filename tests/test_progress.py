"""One progress display: in a notebook the widget alone (the every-10-epochs text in its
postfix); after a stop, the bar's count is the epoch the stop's message names."""

from rnnlm.training import progress
from rnnlm.training.loop import EpochStats
from tests.support.commands import TINY_ARGS, cli


class FakeWidget:
    """What tqdm.auto's notebook bar is asked to do."""

    def __init__(self):
        self.n, self.postfix, self.written = 0, {}, []

    def set_postfix(self, postfix, refresh=True):
        self.postfix = dict(postfix)

    def update(self, n):
        self.n += n

    def write(self, line, file=None):
        self.written.append(line)

    def refresh(self):
        pass

    def close(self):
        pass


def test_a_notebook_shows_the_bar_alone_with_the_sample_in_its_postfix(monkeypatch, capsys):
    widget = FakeWidget()
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(progress, "notebook_bar", lambda total, first: widget)
    shown = progress.Progress(20, sample=lambda: "time traveller x")
    for epoch in range(1, 21):
        shown.update(EpochStats(epoch, 3.0, 1000.0, 0.1))
    shown.close()
    assert widget.n == 20 and widget.written == [] and capsys.readouterr().out == ""
    assert widget.postfix["sample"] == "time traveller x" and widget.postfix["ppl"] == "3.00"


class Terminal:
    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_a_stopped_bar_ends_at_the_held_epoch():
    terminal = Terminal()
    bar = progress.Progress(500, stream=terminal)
    for epoch in range(1, 64):
        bar.update(EpochStats(epoch, 3.0, 1000.0, 0.1))
    bar.close(completed=62)
    assert "62/500" in terminal.text.rsplit("\r", 1)[-1]


def test_ctrl_c_between_a_snapshot_and_its_count_ends_the_bar_at_the_saved_epoch(
    backend, tmp_path, monkeypatch, capsys
):
    real_update = progress.Progress.update

    def update(self, stats):
        if stats.epoch == 2:
            raise KeyboardInterrupt  # epoch 2 is in the snapshot, not yet on the bar
        real_update(self, stats)

    closed = []
    monkeypatch.setattr(progress.Progress, "update", update)
    monkeypatch.setattr(progress.Progress, "close", lambda self, completed=None: closed.append(completed))
    code, _, err = cli(
        capsys, "train", "--backend", backend.NAME, *TINY_ARGS, "--epochs", "5", "--save", tmp_path / "m.npz"
    )
    assert code == 130 and "checkpoint of epoch 2 in" in err, err
    assert closed[0] == 2
