"""`--resume` and `--resume auto` say, on stderr, the epoch they continue from (under
--quiet too: it is what the run does, not progress); a fresh start says nothing."""

from tests.support.commands import TINY_ARGS, cli


def said(err):
    return [line for line in err.strip().splitlines() if not line.startswith("note: ")]  # thread notes aside


def test_a_resumed_run_says_its_epoch_and_a_fresh_one_does_not(backend, tmp_path, capsys):
    path = tmp_path / "m.npz"
    train = ["train", "--backend", backend.NAME, *TINY_ARGS, "--threads", "1", "--save", path]
    code, _, err = cli(capsys, *train, "--resume", "auto")  # no file yet: starts afresh
    assert code == 0 and "resuming" not in err, err
    code, out, err = cli(capsys, *train, "--epochs", "2", "--resume", "auto")
    assert code == 0 and said(err) == ["resuming from epoch 1"], err
    assert "resuming" not in out  # stdout stays the summary
    code, _, err = cli(capsys, *train, "--epochs", "3", "--resume")
    assert code == 0 and said(err) == ["resuming from epoch 2"], err
