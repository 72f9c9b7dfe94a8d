"""Training that survives faults, on the engines' own machinery (loopback only): workers
SIGKILLed at seeded random moments, the group restarted from the last checkpoint, and the
final weights compared bit for bit with an uninterrupted run of the same worker count.
Every subprocess is bounded in time; the models are tiny, the runs short."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from rnnlm.cli.main import main
from tests.support.chaos import assert_bitwise_equal, descendants, kill_workers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/task"), reason="needs Linux /proc"),
]

TINY = [
    "--num-hiddens",
    "16",
    "--max-tokens",
    "2000",
    "--batch-size",
    "8",
    "--num-steps",
    "10",
    "--epochs",
    "12",
    "--save-every",
    "1",
    "--quiet",
]
RUN_SECONDS = 240  # one group run, restarts included, on a busy 2-core machine
LOOPBACK = {
    "OMP_NUM_THREADS": "1",
    "GLOO_SOCKET_IFNAME": "lo",  # as `rnnlm launch` sets on 2 cores
    # torchrun: a fresh store for each restarted group (see README, Faults and restarts)
    "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, **kwargs):
    return subprocess.Popen(
        [sys.executable, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **LOOPBACK, **kwargs.pop("env", {})},
        **kwargs,
    )


def finish(proc, deadline):
    """(stdout, stderr) of `proc`; on timeout its whole process tree is killed (workers hold the pipes)."""
    try:
        return proc.communicate(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *descendants(proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        out, err = proc.communicate()
        pytest.fail(f"timed out: {proc.args}\n{err[-3000:]}")


def launch_argv(backend, dtype, ckpt, restarts=0):
    return [
        "-m",
        "rnnlm",
        "launch",
        "--workers",
        "2",
        "--max-restarts",
        str(restarts),
        "--",
        "train",
        "--backend",
        backend,
        *TINY,
        "--dtype",
        dtype,
        "--save",
        str(ckpt),
        "--metrics-json",
        f"{ckpt}.json",
    ]


def history(ckpt):
    return [h["perplexity"] for h in json.loads(open(f"{ckpt}.json").read())["history"]]


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory):
    """uninterrupted(backend, dtype): the checkpoint of a 2-worker run without faults."""
    done = {}

    def get(backend, dtype):
        if (backend, dtype) not in done:
            ckpt = tmp_path_factory.mktemp(f"{backend}-{dtype}") / "ck.npz"
            proc = start(launch_argv(backend, dtype, ckpt))
            _, err = finish(proc, time.time() + RUN_SECONDS)
            assert proc.returncode == 0, err[-2000:]
            done[backend, dtype] = ckpt
        return done[backend, dtype]

    return get


# (dtype, kills, seed): three kills at float64 (the run); float32 once, to keep the suite short
CHAOS = [("float64", 3, 1), ("float32", 1, 2)]


@pytest.mark.parametrize("dtype,kills,seed", CHAOS, ids=[c[0] for c in CHAOS])
def test_workers_killed_at_random_end_bitwise_equal(backend, dtype, kills, seed, tmp_path, uninterrupted):
    ckpt = tmp_path / "ck.npz"
    launcher = start(launch_argv(backend.NAME, dtype, ckpt, restarts=3))
    deadline = time.time() + RUN_SECONDS
    killed = kill_workers([launcher.pid], ckpt, kills, seed, lambda: launcher.poll() is None, deadline)
    _, err = finish(launcher, deadline)
    assert len(killed) == kills, err[-2000:]
    assert launcher.returncode == 0, err[-2000:]
    restarts = [line for line in err.splitlines() if line.startswith("restart ")]
    assert len(restarts) == kills and "Traceback" not in err
    for i, (line, pid) in enumerate(zip(restarts, killed)):
        assert line.startswith(f"restart {i + 1}/3: ") and f"(pid {pid}) was killed by SIGKILL; " in line
        assert "resuming from epoch " in line or "starting afresh" in line
    assert_bitwise_equal(uninterrupted(backend.NAME, dtype), ckpt)
    assert history(ckpt) == history(uninterrupted(backend.NAME, dtype))  # every epoch, exactly
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz", "ck.npz.json"]  # no temp files


def torchrun(*args):
    return [
        "-m",
        "torch.distributed.run",
        *args,
        "--monitor-interval",
        "0.1",
        "-m",
        "rnnlm",
        "train",
        "--backend",
        "torch",
        "--resume",
        "auto",
        *TINY,
        "--dtype",
        "float64",
    ]


def test_torchrun_restarts_the_group_from_the_checkpoint(tmp_path, uninterrupted):
    from tests.support.backends import load_or_skip

    load_or_skip("torch")
    ckpt = tmp_path / "ck.npz"
    agent = start([*torchrun("--standalone", "--nproc-per-node", "2", "--max-restarts", "3"), "--save", str(ckpt)])
    deadline = time.time() + RUN_SECONDS
    killed = kill_workers([agent.pid], ckpt, 2, 3, lambda: agent.poll() is None, deadline)
    _, err = finish(agent, deadline)
    assert len(killed) == 2 and agent.returncode == 0, "\n".join(
        line for line in err.splitlines() if "error" in line.lower()
    )
    assert [line.split(";")[0] for line in err.splitlines() if "; resuming from epoch" in line] == [
        "restart 1/3 by torchrun",
        "restart 2/3 by torchrun",
    ]
    assert_bitwise_equal(uninterrupted("torch", "float64"), ckpt)


def one_process(backend, tmp_path):
    out = tmp_path / "one.json"
    assert main(["train", "--backend", backend, *TINY, "--dtype", "float64", "--metrics-json", str(out)]) == 0
    return [h["perplexity"] for h in json.loads(out.read_text())["history"]]


def assert_close(a, b, rel=1e-9):
    assert len(a) == len(b) and a
    assert np.max(np.abs(np.subtract(a, b)) / np.abs(b)) <= rel


def test_two_torchrun_nodes_on_loopback_survive_a_killed_worker(tmp_path, uninterrupted, capsys):
    """What a user runs on two machines: one torchrun agent per node, c10d rendezvous."""
    from tests.support.backends import load_or_skip

    load_or_skip("torch")
    ckpt, port = tmp_path / "ck.npz", free_port()
    nodes = [
        start(
            [
                *torchrun(
                    "--nnodes",
                    "2",
                    "--node-rank",
                    str(rank),
                    "--nproc-per-node",
                    "1",
                    "--rdzv-backend",
                    "c10d",
                    "--rdzv-endpoint",
                    f"127.0.0.1:{port}",
                    "--rdzv-id",
                    "faults",
                    "--max-restarts",
                    "2",
                ),
                "--save",
                str(ckpt),
                "--metrics-json",
                f"{ckpt}.json",
            ]
        )
        for rank in (0, 1)
    ]
    deadline = time.time() + RUN_SECONDS
    # a worker of node 1 dies: node 1's agent restarts it, node 0's agent restarts with it
    killed = kill_workers([nodes[1].pid], ckpt, 1, 4, lambda: nodes[1].poll() is None, deadline)
    errs = [finish(node, deadline)[1] for node in nodes]
    assert len(killed) == 1 and [n.returncode for n in nodes] == [0, 0], errs[0][-1500:] + errs[1][-1500:]
    assert_bitwise_equal(uninterrupted("torch", "float64"), ckpt)
    assert_close(history(ckpt), one_process("torch", tmp_path))


def test_mxnet_roles_started_as_separate_commands(tmp_path, uninterrupted, capsys):
    """The README's commands for several machines: scheduler, server and workers, each told
    where the scheduler is by DMLC_* variables."""
    from tests.support.backends import load_or_skip

    load_or_skip("mxnet")
    ckpt = tmp_path / "ck.npz"
    common = {
        "DMLC_PS_ROOT_URI": "127.0.0.1",
        "DMLC_PS_ROOT_PORT": str(free_port()),
        "DMLC_NUM_SERVER": "1",
        "DMLC_NUM_WORKER": "2",
        "DMLC_NODE_HOST": "127.0.0.1",
        "DMLC_INTERFACE": "lo",
    }
    helpers = [
        start(["-c", "from rnnlm.backends.mxnet_runtime import load; load()"], env={**common, "DMLC_ROLE": role})
        for role in ("scheduler", "server")
    ]
    workers = [
        start(
            [
                "-m",
                "rnnlm",
                "train",
                "--backend",
                "mxnet",
                *TINY,
                "--dtype",
                "float64",
                "--save",
                str(ckpt),
                "--metrics-json",
                f"{ckpt}.json",
            ],
            env={**common, "DMLC_ROLE": "worker"},
        )
        for _ in range(2)
    ]
    deadline = time.time() + RUN_SECONDS
    results = [finish(p, deadline) for p in workers + helpers]
    assert [p.returncode for p in workers + helpers] == [0] * 4, [err[-1000:] for _, err in results]
    assert_bitwise_equal(uninterrupted("mxnet", "float64"), ckpt)
    assert_close(history(ckpt), one_process("mxnet", tmp_path))
