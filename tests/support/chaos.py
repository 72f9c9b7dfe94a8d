"""Fault injection for the restart tests: SIGKILL a worker of a running group at repeatable
"random" moments (a seeded generator picks how many checkpoint writes to wait for, a delay,
and which worker), and compare checkpoints bit for bit. Linux only (/proc)."""

import os
import signal
import time

import numpy as np

from rnnlm.checkpoints.file import META_KEY
from rnnlm.distributed.group import GROUP_WORKER


def descendants(pid):
    """Every process below `pid`, children first."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:
            kids = []
        found += kids
        todo += kids
    return found


def environ_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().decode(errors="replace").split("\0")
    except OSError:
        return []


def is_worker(pid):
    """A training process: one `rnnlm launch` started as a worker (any engine), or a rank
    torchrun's own agent started (the torchrun tests)."""
    env = environ_of(pid)
    if any(e.startswith(f"{GROUP_WORKER}=") for e in env):
        return True
    return any(e.startswith("TORCHELASTIC_RUN_ID=") for e in env) and any(e.startswith("RANK=") for e in env)


def worker_index(pid):
    """The index `rnnlm launch` gave the worker `pid`, or None."""
    for e in environ_of(pid):
        if e.startswith(f"{GROUP_WORKER}="):
            return int(e.split("=", 1)[1])
    return None


def workers_of(pids):
    return [p for root in pids for p in descendants(root) if is_worker(p)]


def running(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fingerprint(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def kill_workers(roots, ckpt, kills, seed, alive, deadline, max_wait_writes=2, max_delay=0.4):
    """SIGKILL a worker under `roots` (pids) `kills` times: each time after the checkpoint
    has been rewritten 1..max_wait_writes times and a further random delay. `alive()` says
    whether the run still goes on. Returns the pids killed (fewer if the run ended first)."""
    rng = np.random.default_rng(seed)
    killed, old_group = [], []
    for _ in range(kills):
        # count only checkpoints the next group writes: the old group's last write, or a
        # kill while the new one connects, would hit gloo's connect, which hangs (not ours)
        while any(running(pid) for pid in old_group) and time.time() < deadline:
            time.sleep(0.01)
        writes, last = int(rng.integers(1, max_wait_writes + 1)), fingerprint(ckpt)
        delay, pick = float(rng.uniform(0, max_delay)), int(rng.integers(0, 1 << 30))
        while writes and alive() and time.time() < deadline:
            now = fingerprint(ckpt)
            if now is not None and now != last:
                writes, last = writes - 1, now
            time.sleep(0.01)
        time.sleep(delay)
        victims = sorted(w for w in workers_of(roots) if w not in killed)
        if not alive() or not victims or time.time() >= deadline:
            break
        victim, old_group = victims[pick % len(victims)], victims
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(victim)
    return killed


def weights(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files if name != META_KEY}


def assert_bitwise_equal(path_a, path_b):
    a, b = weights(path_a), weights(path_b)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name], b[name]), f"{name}: max abs diff {np.abs(a[name] - b[name]).max()}"
