"""`rnnlm launch --workers N [--servers S] -- train ...`: a local data-parallel group on
loopback, on the engine of the chosen backend, supervised until it ends.

The backend's engine module (`rnnlm.backends.<name>_engine`) says which processes make a
group and with which variables; this module only spawns and supervises them. Workers share
the cores (OMP_NUM_THREADS = cores / N unless set). Rank 0's output is the group's; if any
process dies, the others are ended and the launcher exits non-zero with one line naming it.
Children also die with the launcher (PR_SET_PDEATHSIG), so none is orphaned.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from rnnlm.backend import load_engine, requested_name, select_backend
from rnnlm.distributed import check_divisible
from rnnlm.threads import available_cores
from rnnlm.errors import UsageError

POLL_SECONDS = 0.05
GRACE_SECONDS = 5


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child, before exec: be killed when the launcher dies (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(argv, env):
    return subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent if os.name == "posix" else None)


def backend_name_of(train_args):
    """The backend the workers will select (without importing a framework when named)."""
    return requested_name(train_args.backend) or select_backend().NAME


def _base_env(workers):
    env = dict(os.environ)
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, available_cores() // workers))
    return env


def start_group(engine, train_argv, workers, servers):
    """Spawn the engine's processes; returns (workers, helpers) as [(label, Popen)]."""
    base = _base_env(workers)
    specs = engine.group_processes(train_argv, workers, servers, free_port())
    started = [(spec, _spawn(spec.argv, {**base, **spec.env})) for spec in specs]
    return ([(s.label, p) for s, p in started if s.worker],
            [(s.label, p) for s, p in started if not s.worker])


def _stop(procs, sig=signal.SIGTERM):
    for _, p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    deadline = time.time() + GRACE_SECONDS
    for _, p in procs:
        try:
            p.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _describe(rc):
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with status {rc}"


def supervise(workers, helpers):
    """Wait for the group; on the first failure end everyone and say who failed."""
    everyone = workers + helpers
    try:
        while True:
            for label, p in everyone:
                rc = p.poll()
                if rc not in (None, 0):
                    _stop(everyone)
                    print(f"error: {label} (pid {p.pid}) {_describe(rc)}; stopped the group", file=sys.stderr)
                    return rc if rc and rc > 0 else 1
            if all(p.poll() == 0 for _, p in workers):
                _stop(helpers)  # servers end by themselves once the workers finalize
                return 0
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        _stop(workers, signal.SIGINT)  # workers save their checkpoint and exit 130
        _stop(helpers)
        return 130


def cmd_launch(args, parse_train):
    """`parse_train(argv)` parses and validates the train command line (from cli.py)."""
    argv = list(args.train_argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv[:1] != ["train"]:
        raise UsageError("launch runs a training command: rnnlm launch --workers N -- train [options]")
    train_args = parse_train(argv)
    from rnnlm.commands import load_training_data  # catch bad data once, not in every worker
    check_divisible(train_args.batch_size, args.workers)
    load_training_data(train_args)
    engine = load_engine(backend_name_of(train_args))
    return supervise(*start_group(engine, argv, args.workers, args.servers))
