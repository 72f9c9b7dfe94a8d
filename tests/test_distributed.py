"""Data-parallel training on loopback: 2 workers compute what one process computes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlm.cli.main import main
from tests.support.chaos import worker_index
from tests.support.commands import assert_one_line_error, run_cli
from tests.support.waiting import wait_until

TEN_EPOCHS = ["--epochs", "10", "--dtype", "float64", "--quiet"]


def history(path):
    return [h["perplexity"] for h in json.loads(path.read_text())["history"]]


def max_rel_diff(a, b):
    assert len(a) == len(b) and a
    return max(abs(x - y) / y for x, y in zip(a, b))


def single_process(backend, tmp_path, *args):
    out = tmp_path / "single.json"
    assert main(["train", "--backend", backend.NAME, *args, "--metrics-json", str(out)]) == 0
    return history(out)


@pytest.mark.slow
def test_launch_two_workers_matches_one_process(backend, tmp_path, capsys):
    out = tmp_path / "d.json"
    proc = run_cli(
        "launch", "--workers", "2", "--", "train", "--backend", backend.NAME, *TEN_EPOCHS, "--metrics-json", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("perplexity ") == 1  # rank 0 alone reports
    m = json.loads(out.read_text())
    assert m["workers"] == 2 and m["backend"] == backend.NAME
    assert max_rel_diff(history(out), single_process(backend, tmp_path, *TEN_EPOCHS)) <= 1e-9


@pytest.mark.slow
def test_torchrun_matches_one_process(tmp_path, capsys):
    from tests.support.backends import load_or_skip

    backend = load_or_skip("torch")
    out = tmp_path / "t.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "rnnlm",
            "train",
            "--backend",
            "torch",
            *TEN_EPOCHS,
            "--metrics-json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert max_rel_diff(history(out), single_process(backend, tmp_path, *TEN_EPOCHS)) <= 1e-9


@pytest.mark.slow
def test_resume_with_another_number_of_workers(backend, tmp_path, capsys):
    ckpt, out = tmp_path / "r.npz", tmp_path / "r.json"
    common = ["--backend", backend.NAME, "--dtype", "float64", "--quiet", "--num-hiddens", "64"]
    assert main(["train", *common, "--epochs", "4", "--save", str(ckpt)]) == 0
    proc = run_cli(
        "launch",
        "--workers",
        "2",
        "--",
        "train",
        *common,
        "--epochs",
        "8",
        "--save",
        str(ckpt),
        "--resume",
        "--metrics-json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert max_rel_diff(history(out), single_process(backend, tmp_path, *common, "--epochs", "8")) <= 1e-9


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.mark.slow
def test_killing_a_worker_ends_the_group(backend, tmp_path):
    if not os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children"):
        pytest.skip("needs Linux /proc to find the workers")
    ckpt = tmp_path / "k.npz"
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnnlm",
            "launch",
            "--workers",
            "2",
            "--",
            "train",
            "--backend",
            backend.NAME,
            "--epochs",
            "100000",
            "--quiet",
            "--save",
            str(ckpt),
            "--save-every",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(ckpt.exists, launcher, "the group's first checkpoint", poll=0.05)  # the group is training
    kids = children(launcher.pid)
    victims = [k for k in kids if worker_index(k) == 1]  # the second worker, whatever its engine calls it
    assert ckpt.exists() and victims, (kids, launcher.poll())
    start = time.time()
    os.kill(victims[-1], signal.SIGKILL)
    _, err = launcher.communicate(timeout=60)
    assert time.time() - start < 60
    assert launcher.returncode not in (0, None)
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"pid {victims[-1]}" in last and "SIGKILL" in last
    assert ("worker" if backend.NAME == "mxnet" else "rank 1") in last
    assert "Traceback" not in err
    time.sleep(0.5)
    assert not [k for k in kids if os.path.exists(f"/proc/{k}") and open(f"/proc/{k}/stat").read().split()[2] != "Z"], (
        "orphaned processes"
    )


def test_batch_size_must_divide_among_workers():
    assert_one_line_error(
        run_cli("launch", "--workers", "2", "--", "train", "--batch-size", "33"), "--batch-size 33", "2 workers"
    )


def test_launch_needs_a_train_command():
    assert_one_line_error(run_cli("launch", "--workers", "2", "--", "predict", "x"), "train")


def server_sum(arrays):
    """What ps-lite's servers do with the workers' pushes: add them up in float32."""
    total = arrays[0].astype(np.float32)
    for a in arrays[1:]:
        total = (total + a.astype(np.float32)).astype(np.float32)
    return total


@pytest.mark.parametrize("workers", [2, 3, 16])
def test_float64_sums_through_a_float32_transport_are_exact(workers):
    from rnnlm.backends.common import exact_sum

    rng = np.random.default_rng(workers)
    parts = [
        [rng.normal(size=(5, 7)) * 10.0 ** rng.integers(-6, 3), rng.normal(size=11) * 1e-4, np.zeros(3)]
        for _ in range(workers)
    ]
    scales = exact_sum.scales_from(server_sum([exact_sum.peaks(p) for p in parts]))
    summed = server_sum([exact_sum.encode(p, scales) for p in parts])
    got = exact_sum.decode(summed, parts[0], scales)
    for i, g in enumerate(got):
        exact = sum(p[i] for p in parts)  # float64 reference
        assert g.shape == exact.shape
        assert np.abs(g - exact).max() <= workers * np.finfo(np.float64).eps * max(np.abs(exact).max(), 1e-300)
    # while the plain float32 transport is off by ~1e-7 relative
    f32 = server_sum([p[0] for p in parts])
    exact0 = sum(p[0] for p in parts)
    assert np.abs(f32 - exact0).max() > 1e-9 * np.abs(exact0).max()


@pytest.mark.slow
def test_ctrl_c_on_a_launched_group_is_one_line(tmp_path):
    """As a terminal's Ctrl-C, twice: SIGINT to the launcher and its workers alike."""
    from tests.support.backends import load_or_skip

    load_or_skip("torch")
    ckpt = tmp_path / "c.npz"
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rnnlm",
            "launch",
            "--workers",
            "2",
            "--",
            "train",
            "--backend",
            "torch",
            "--epochs",
            "100000",
            "--num-hiddens",
            "16",
            "--quiet",
            "--save",
            str(ckpt),
            "--save-every",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(ckpt.exists, launcher, "the group's first checkpoint", poll=0.05)
        os.killpg(launcher.pid, signal.SIGINT)
        time.sleep(0.3)
        os.killpg(launcher.pid, signal.SIGINT)  # pressed twice: still one line, no traceback
        _, err = launcher.communicate(timeout=60)
    finally:  # a failure must not leave a 100000-epoch group running under the rest of the suite
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted; checkpoint of epoch "), err
