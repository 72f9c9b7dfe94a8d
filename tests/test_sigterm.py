"""SIGTERM (schedulers, `docker stop`, preemption) is a stop request like Ctrl-C: the run saves
its last completed epoch, says so in one line and exits 143; resumed, it ends bitwise where
an uninterrupted run ends. `rnnlm launch` forwards it to its group."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlm.checkpoints.file import load_checkpoint

EPOCHS = 60


def train_cmd(path, *extra):
    # --threads 1: bitwise equality needs the same float sums in both runs; no --save-every:
    # the only checkpoint before the end is the one SIGTERM writes
    return [
        "train",
        "--iter",
        "random",
        "--seed",
        "3",
        "--epochs",
        str(EPOCHS),
        "--num-hiddens",
        "16",
        "--max-tokens",
        "2000",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--threads",
        "1",
        "--save",
        str(path),
        *extra,
    ]


def start_and_terminate(argv, cwd):
    """Start `rnnlm ARGV`, SIGTERM it once its first progress line (epoch 10) is out."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnlm", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    deadline = time.time() + 240
    for line in proc.stdout:
        if line.startswith("epoch") or time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    return proc.returncode, err


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("backend_name", ["torch", "mxnet"])
def test_sigterm_saves_and_the_resumed_run_is_bitwise_the_uninterrupted_one(backend_name, tmp_path, capsys):
    from tests.support.backends import load_or_skip

    load_or_skip(backend_name)
    reference = tmp_path / "ref.npz"
    rnnlm = [sys.executable, "-m", "rnnlm"]  # every run its own process: no state shared with the tests
    assert (
        subprocess.run(
            [*rnnlm, *train_cmd(reference, "--backend", backend_name), "--quiet"], capture_output=True, timeout=600
        ).returncode
        == 0
    )

    stopped = tmp_path / "stopped.npz"
    rc, err = start_and_terminate(train_cmd(stopped, "--backend", backend_name), tmp_path)
    assert rc == 143, err
    epoch = load_checkpoint(stopped)[3]["epoch"]
    assert 1 <= epoch < EPOCHS, "the run was not stopped mid-way"  # the snapshot follows the line
    assert err.strip().splitlines() == [f"terminated; checkpoint of epoch {epoch} in {stopped}"]

    resumed = subprocess.run(
        [*rnnlm, *train_cmd(stopped, "--backend", backend_name), "--resume", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    _, _, w_ref, meta_ref = load_checkpoint(reference)
    _, _, w_res, meta_res = load_checkpoint(stopped)
    assert meta_res["epoch"] == meta_ref["epoch"] == EPOCHS
    assert [h["perplexity"] for h in meta_res["history"]] == [h["perplexity"] for h in meta_ref["history"]]
    for name in w_ref:
        assert np.array_equal(w_ref[name], w_res[name]), name


@pytest.mark.slow
def test_launch_forwards_sigterm_to_its_group(tmp_path):
    from tests.support.backends import load_or_skip

    load_or_skip("torch")
    saved = tmp_path / "group.npz"
    rc, err = start_and_terminate(["launch", "--workers", "2", "--", *train_cmd(saved, "--backend", "torch")], tmp_path)
    assert rc == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("terminated"), err
    if saved.exists():  # a group stopped before its first epoch has nothing to save
        assert lines[0] == f"terminated; checkpoint of epoch {load_checkpoint(saved)[3]['epoch']} in {saved}"


def test_an_in_process_stop_leaves_the_callers_signal_handlers_as_they_were():
    """A stop ignores SIGINT and SIGTERM; run in-process (main with arguments), that must not
    outlive the call: every program started afterwards would inherit an ignored Ctrl-C (found
    by a shuffled test order: later Ctrl-C tests hung)."""
    import signal
    from rnnlm.stop_signals import ignore_stop_signals, restored_stop_signals

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with restored_stop_signals():
        ignore_stop_signals()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_main_with_arguments_restores_the_handlers_after_an_interrupted_run(tmp_path, monkeypatch, any_backend):
    import signal
    from rnnlm.cli.main import main
    from rnnlm.training import run as training_run

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training_run.TrainingRun, "run", interrupted)
    before = signal.getsignal(signal.SIGINT)
    from tests.support.commands import TINY_ARGS

    rc = main(["train", "--backend", any_backend, *TINY_ARGS, "--quiet"])
    assert rc == 130
    assert signal.getsignal(signal.SIGINT) == before != signal.SIG_IGN
