"""Validation, plots, sampling, resumable checkpoints, Ctrl-C, divergence, bad input."""

import json
import signal
import subprocess
import sys

import numpy as np
import pytest

from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.cli.main import main
from rnnlm.errors import TrainingDiverged
from tests.support.commands import assert_one_line_error, run_cli
from tests.support.waiting import wait_until
from tests.support.extras import needs_plot

SMALL = ["--epochs", "2", "--num-hiddens", "16", "--max-tokens", "3000", "--quiet"]


@needs_plot
def test_validation_split_plot_and_metrics(backend, tmp_path, capsys):
    png, metrics = tmp_path / "curve.png", tmp_path / "m.json"
    assert (
        main(
            [
                "train",
                "--backend",
                backend.NAME,
                "--max-tokens",
                "0",
                "--val-fraction",
                "0.1",
                "--epochs",
                "2",
                "--num-hiddens",
                "32",
                "--quiet",
                "--plot",
                str(png),
                "--metrics-json",
                str(metrics),
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    m = json.loads(metrics.read_text())
    vals = [h["val_perplexity"] for h in m["history"]]
    assert len(vals) == 2 and all(np.isfinite(v) and 1 < v < 28 for v in vals)
    assert m["val_perplexity"] == vals[-1]


def test_without_split_val_perplexity_is_null(backend, tmp_path, capsys):
    metrics = tmp_path / "m.json"
    assert main(["train", "--backend", backend.NAME, *SMALL, "--metrics-json", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["val_perplexity"] is None and all(h["val_perplexity"] is None for h in m["history"])


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory, any_backend):
    path = tmp_path_factory.mktemp("s") / "s.npz"
    assert (
        main(
            [
                "train",
                "--backend",
                any_backend,
                "--epochs",
                "10",
                "--num-hiddens",
                "32",
                "--max-tokens",
                "3000",
                "--quiet",
                "--save",
                str(path),
            ]
        )
        == 0
    )
    return path


def test_sampling_is_seeded_and_temperature_zero_is_greedy(small_checkpoint, capsys):
    def lines(*extra):
        assert main(["predict", "the ", "--checkpoint", str(small_checkpoint), *extra]) == 0
        return capsys.readouterr().out.rstrip("\n").split("\n")

    greedy = lines()
    assert lines("--temperature", "0") == greedy
    a = lines("--temperature", "1.0", "--seed", "3", "--num-samples", "3")
    assert len(a) == 3 and len(set(a)) > 1
    assert all(s.startswith("the ") and len(s.replace("<unk>", "?")) == 4 + 50 for s in a)
    assert lines("--temperature", "1.0", "--seed", "3", "--num-samples", "3") == a
    assert lines("--temperature", "1.0", "--seed", "4", "--num-samples", "3") != a
    # top-k 1 is greedy whatever the temperature
    assert lines("--temperature", "5", "--top-k", "1") == greedy


def train_cmd(path, epochs, *extra):
    # default threads: the count is chosen once and recorded, so a resume computes as before
    return [
        "train",
        "--iter",
        "random",
        "--seed",
        "7",
        "--save-every",
        "1",
        "--epochs",
        str(epochs),
        "--num-hiddens",
        "64",
        "--quiet",
        "--save",
        str(path),
        *extra,
    ]


def saved_epoch(path):
    try:
        return load_checkpoint(path)[3]["epoch"]
    except Exception:
        return 0


@pytest.mark.slow
def test_killed_and_resumed_run_matches_uninterrupted(backend, tmp_path, capsys):
    epochs = 60
    # every run a process of its own, as users run them: the same command, the same bits
    reference = tmp_path / "ref.npz"
    assert run_cli(*train_cmd(reference, epochs, "--backend", backend.NAME)).returncode == 0

    killed = tmp_path / "killed.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnlm", *train_cmd(killed, epochs, "--backend", backend.NAME)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # --quiet: a few lines
    wait_until(lambda: saved_epoch(killed) >= 3, proc, "the checkpoint of epoch 3", poll=0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    at_kill = saved_epoch(killed)
    assert 3 <= at_kill < epochs, f"the run was not interrupted mid-way (epoch {at_kill})"

    resumed = run_cli(*train_cmd(killed, epochs, "--backend", backend.NAME), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    _, _, w_ref, meta_ref = load_checkpoint(reference)
    _, _, w_res, meta_res = load_checkpoint(killed)
    assert meta_res["epoch"] == meta_ref["epoch"] == epochs and meta_res["threads"] == meta_ref["threads"]
    assert [h["perplexity"] for h in meta_res["history"]] == [h["perplexity"] for h in meta_ref["history"]]
    for name in w_ref:
        assert np.array_equal(w_ref[name], w_res[name]), name


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, any_backend):
    path = tmp_path / "c.npz"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnlm", *train_cmd(path, 100000, "--backend", any_backend)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: saved_epoch(path) >= 2, proc, "the checkpoint of epoch 2")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted") and str(path) in lines[0]
    assert saved_epoch(path) >= 2


class NaNAfter:
    """A backend whose training loss turns NaN after `good` minibatches (and stays NaN)."""

    def __init__(self, backend, good):
        self._backend, self._left = backend, good

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def train_step(self, model, optimizer, state, X, Y, clip):
        state, loss, norm = self._backend.train_step(model, optimizer, state, X, Y, clip)
        self._left -= 1
        return state, (loss * float("nan") if self._left < 0 else loss), norm


def test_divergence_stops_and_keeps_the_last_good_checkpoint(backend, tmp_path):
    from rnnlm.config import DataConfig, ModelConfig, RunOptions, TrainConfig
    from rnnlm.data.corpus import load_corpus
    from rnnlm.training.run import TrainingRun

    corpus, vocab = load_corpus(max_tokens=2000)
    path = tmp_path / "d.npz"
    per_epoch = len(corpus) // (32 * 35)  # 1 minibatch an epoch
    run = TrainingRun(
        NaNAfter(backend, good=2 * per_epoch),
        backend.resolve_device("cpu"),
        ModelConfig(len(vocab), 16),
        TrainConfig(epochs=5, max_tokens=2000),
        DataConfig(),
        RunOptions(save=str(path), quiet=True),
        vocab,
        corpus,
    )
    with pytest.raises(TrainingDiverged, match="epoch 3.*smaller --lr or --clip"):
        run.run()
    meta = load_checkpoint(path)[3]
    assert meta["epoch"] == 2 and all(np.isfinite(h["perplexity"]) for h in meta["history"])


def test_divergence_exit_status_is_1(tmp_path, any_backend):
    proc = run_cli(
        "train", "--backend", any_backend, "--lr", "1e6", "--clip", "1e6", "--epochs", "3", "--num-hiddens", "16"
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: training diverged") and "--lr" in proc.stderr
    assert "Traceback" not in proc.stderr


def bad_corpus(tmp_path, kind):
    path = tmp_path / "corpus.txt"
    content = {
        "empty": b"",
        "no_letters": b"1234 5678\n!!!\n",
        "not_utf8": b"\xff\xfe\xfa text",
        "short": b"a short text",
    }.get(kind)
    if kind == "directory":
        return tmp_path
    if kind == "missing":
        return tmp_path / "missing.txt"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("missing", "does not exist"),
        ("directory", "directory"),
        ("empty", "is empty"),
        ("no_letters", "no letters"),
        ("not_utf8", "not UTF-8"),
        ("short", "too short for one minibatch"),
    ],
)
def test_bad_corpus_cli(tmp_path, kind, fragment):
    assert_one_line_error(run_cli("train", "--corpus", str(bad_corpus(tmp_path, kind)), "--epochs", "1"), fragment)


def test_device_gpu_without_gpu(backend):
    if backend.device_name(backend.try_gpu()) not in ("cpu", "cpu(0)"):
        pytest.skip("this machine has a GPU")
    assert_one_line_error(
        run_cli("train", "--device", "gpu", "--epochs", "1", "--backend", backend.NAME), "--device gpu"
    )


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("truncated", "truncated"),
        ("text", "not a .npz"),
        ("object", "object arrays"),
        ("version", "format version"),
    ],
)
def test_bad_checkpoint_cli(small_checkpoint, tmp_path, damage, fragment):
    path = tmp_path / "bad.npz"
    data = small_checkpoint.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "text":
        path.write_text("not a checkpoint")
    elif damage == "object":
        with open(path, "wb") as f:
            np.savez(f, __meta__=np.array(["x", None], dtype=object))
    elif damage == "version":
        with np.load(small_checkpoint) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["__meta__"]))
        arrays["__meta__"] = np.array(json.dumps({**meta, "version": 2}))
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    assert_one_line_error(run_cli("predict", "abc", "--checkpoint", str(path)), fragment)


def test_resume_errors(tmp_path, small_checkpoint, capsys):
    assert main(["train", *SMALL, "--resume"]) == 2
    assert "--resume needs --save" in capsys.readouterr().err
    assert main(["train", *SMALL, "--resume", "--save", str(tmp_path / "none.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", *SMALL, "--epochs", "10", "--resume", "--save", str(small_checkpoint)]) == 2
    assert "already at epoch 10" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--val-fraction", "1.5"], "--val-fraction"),
        (["--val-fraction", "0.001"], "validation split"),
        (["--save-every", "-1"], "--save-every"),
        (["--lr", "inf"], "finite"),
    ],
)
def test_bad_training_options(args, fragment, capsys):
    assert main(["train", *SMALL, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and fragment in err[0]


def test_resume_takes_data_model_and_settings_from_the_checkpoint(backend, tmp_path, capsys, monkeypatch):
    """Flags that disagree with the checkpoint do not change the continued run."""
    corpus = tmp_path / "text.txt"
    corpus.write_text("the time machine " * 300, encoding="utf-8")
    base = [
        "train",
        "--backend",
        backend.NAME,
        "--corpus",
        str(corpus),
        "--num-hiddens",
        "16",
        "--lr",
        "0.5",
        "--max-tokens",
        "3000",
        "--quiet",
        "--threads",
        "1",
    ]
    straight, split = tmp_path / "straight.npz", tmp_path / "split.npz"
    assert main([*base, "--epochs", "5", "--save", str(straight)]) == 0
    assert main([*base, "--epochs", "3", "--save", str(split)]) == 0
    monkeypatch.chdir(tmp_path.parent)  # the saved corpus path must not depend on the working folder
    assert (
        main(
            [
                "train",
                "--backend",
                backend.NAME,
                "--epochs",
                "5",
                "--save",
                str(split),
                "--resume",
                "--num-hiddens",
                "64",
                "--lr",
                "2",
                "--max-tokens",
                "9999",
                "--quiet",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    _, _, w_straight, m_straight = load_checkpoint(straight)
    _, _, w_split, m_split = load_checkpoint(split)
    assert [h["perplexity"] for h in m_split["history"]] == [h["perplexity"] for h in m_straight["history"]]
    assert all(np.array_equal(w_straight[k], w_split[k]) for k in w_straight)


class FakeTerminal:
    """A stderr that says it is a terminal, and keeps what is written to it."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere(capsys):
    from rnnlm.training.progress import Progress
    from rnnlm.training.loop import EpochStats

    terminal = FakeTerminal()
    bar = Progress(20, stream=terminal, sample=lambda: "time traveller x")
    for epoch in range(1, 21):
        bar.update(EpochStats(epoch, 10.0 / epoch, 1000.0, 0.1, 12.0))
    bar.close()
    assert "20/20" in terminal.text and "ppl=" in terminal.text and "val=" in terminal.text
    assert "epoch 10: perplexity 1.0, val perplexity 12.00" in terminal.text  # the book's line, via tqdm.write
    assert capsys.readouterr().out == ""

    plain = Progress(20, stream=sys.stderr, sample=lambda: "time traveller x")  # not a terminal under pytest
    for epoch in range(1, 21):
        plain.update(EpochStats(epoch, 2.0, 1000.0, 0.1))
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["epoch 10", "epoch 20"]

    quiet = Progress(20, quiet=True, stream=terminal)
    quiet.update(EpochStats(10, 2.0, 1000.0, 0.1))
    assert quiet.bar is None and capsys.readouterr().out == ""
