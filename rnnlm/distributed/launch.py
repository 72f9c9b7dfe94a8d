"""`rnnlm launch --workers N [--servers S] -- train ...`: a local data-parallel group on
loopback, on the engine of the chosen backend, supervised until it ends.

The backend's engine module (`rnnlm.backends.<name>_engine`) says which processes make a
group and with which variables; this module only spawns and supervises them. Workers share
the cores (OMP_NUM_THREADS = cores / N unless set). Rank 0's output is the group's; if any
process dies, the others are ended and the launcher exits non-zero with one line naming it.
Children also die with the launcher (PR_SET_PDEATHSIG), so none is orphaned.

With `--max-restarts K` a death instead ends the whole group (for MXNet the scheduler and
servers too: ps-lite cannot re-admit a worker) and starts a fresh one on a fresh port, which
resumes from the last checkpoint of `--save` (`--resume auto` is added) -- up to K times; the
next death ends the run as above. An exit with status 2 (bad input) or 130 (Ctrl-C) is never
restarted: it would only happen again.
"""

import os
import signal
import socket
import subprocess
import sys
import time

from rnnlm.backend import load_engine, requested_name, select_backend
from rnnlm.checkpoints.file import read_meta
from rnnlm.data.dataset import load_training_data
from rnnlm.distributed.group import GROUP_WORKER, SUPERVISED, check_divisible
from rnnlm.threads import available_cores
from rnnlm.training.run import check_outputs
from rnnlm.errors import EXIT, GroupFailed, Stopped, UsageError
from rnnlm.io.outputs import remove_stale_temps
from rnnlm.stop_signals import Terminated, ignore_stop_signals, stop_word

POLL_SECONDS = 0.05
GRACE_SECONDS = 5


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child, before exec: lead a process group of its own (so the launcher can end
    it with everything it started: ps-lite's helpers, a framework's children), and be killed
    when the launcher dies (Linux). Ctrl-C reaches the launcher alone, which passes it on."""
    os.setpgid(0, 0)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(argv, env):
    return subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent if os.name == "posix" else None)


def backend_name_of(job):
    """The backend the workers will select (without importing a framework when named)."""
    return requested_name(job.backend, training=True) or select_backend(training=True).NAME


def _base_env(workers):
    env = {**os.environ, SUPERVISED: "1"}
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, available_cores() // workers))
    return env


def _environments(specs, base):
    """Each process's environment: the launcher's, its engine's, and a worker's index."""
    index = iter(range(len(specs)))
    return [{**base, **s.env, **({GROUP_WORKER: str(next(index))} if s.worker else {})} for s in specs]


def start_group(engine, train_argv, workers, servers):
    """Spawn the engine's processes; returns (workers, helpers) as [(label, Popen)]."""
    base = _base_env(workers)
    specs = engine.group_processes(train_argv, workers, servers, free_port())
    started = [(spec, _spawn(spec.argv, env)) for spec, env in zip(specs, _environments(specs, base))]
    return ([(s.label, p) for s, p in started if s.worker], [(s.label, p) for s, p in started if not s.worker])


def _signal_group(p, sig):
    """`sig` to the process group `p` leads (its pid), or to `p` alone where it has none."""
    try:
        os.killpg(p.pid, sig) if os.name == "posix" else p.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid):
    """True while a process of group `pgid` runs (zombies, whose parent has not reaped them
    yet, count as gone). Reads /proc; elsewhere asks kill(0)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def _stop(procs, sig=signal.SIGTERM):
    """Signal each process's whole group, wait for it to end (SIGKILL after the grace
    period), and return only once no process of any of these groups is left."""
    for _, p in procs:
        if p.poll() is None:
            _signal_group(p, sig)
    deadline = time.time() + GRACE_SECONDS
    for _, p in procs:
        try:
            p.wait(max(0.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            _signal_group(p, signal.SIGKILL)
            p.wait()
    if os.name == "posix":
        for _, p in procs:  # what the leaders started outlives them until it sees the signal
            _signal_group(p, sig)
            while _group_alive(p.pid) and time.time() < deadline:
                time.sleep(POLL_SECONDS)
            _signal_group(p, signal.SIGKILL)
            while _group_alive(p.pid) and time.time() < deadline + GRACE_SECONDS:
                time.sleep(POLL_SECONDS)


def _describe(rc):
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with status {rc}"


def _first_failure(procs):
    """(label, Popen) of a failed process, preferring one a signal killed: its peers then
    fail too (connection reset) and must not be blamed for it. None while all is well."""
    failed = [(label, p) for label, p in procs if p.poll() not in (None, 0)]
    return min(failed, key=lambda f: f[1].returncode >= 0, default=None)


def supervise(workers, helpers):
    """Wait for the group; on the first failure end everyone. Returns (the failed (label,
    Popen) or None, the stop request (KeyboardInterrupt) that ended the group or None)."""
    everyone = workers + helpers
    try:
        while True:
            failure = _first_failure(everyone)
            if failure is not None:
                _stop(everyone)
                return failure, None
            if all(p.poll() == 0 for _, p in workers):
                _stop(everyone)  # servers end by themselves once the workers finalize
                return None, None
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (stop_signals.Terminated)
        ignore_stop_signals()  # a second Ctrl-C or SIGTERM must not cut the stop short
        # forwarded as it came: workers save their checkpoint and exit 130 (SIGINT) or 143
        _stop(workers, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        _stop(helpers)
        return None, exc


def _fingerprint(path):
    """Identifies one version of a file (a new checkpoint is a new inode: atomic rename)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _checkpoint_epoch(save):
    """The epoch the checkpoint at `save` holds, or None (no file, or unreadable)."""
    try:
        return read_meta(save)["epoch"] if save else None
    except (UsageError, KeyError):
        return None


def _saved_epoch(save):
    epoch = _checkpoint_epoch(save)
    return "" if epoch is None else f"; checkpoint of epoch {epoch} in {save}"


def _resume_point(save):
    epoch = _checkpoint_epoch(save)
    return "resuming from its checkpoint" if epoch is None else f"resuming from epoch {epoch}"


def run_group(engine, argv, workers, servers, max_restarts=0, save=None, resume_given=False, save_best=None):
    """Start the group and supervise it, restarting it after a death up to `max_restarts`
    times from the last checkpoint in `save`. Returns 0 when the group finished; raises
    Stopped (a stop request, obeyed) or GroupFailed (with the failed process's status)."""
    before = _fingerprint(save) if save else None  # a checkpoint that is not this run's
    best_before = _fingerprint(save_best) if save_best else None
    group_argv, restarts = list(argv), 0
    while True:
        failure, request = supervise(*start_group(engine, group_argv, workers, servers))
        if request is not None:  # Ctrl-C or SIGTERM: the workers saved, silently
            raise Stopped(request, f"{stop_word(request)}{_saved_epoch(save)}")
        if failure is None:
            return EXIT["ok"]
        label, proc = failure
        what = f"{label} (pid {proc.pid}) {_describe(proc.returncode)}"
        if restarts == max_restarts or proc.returncode in (EXIT["usage"], EXIT["interrupted"]):
            status = proc.returncode if proc.returncode > 0 else EXIT["failed"]
            raise GroupFailed(f"error: {what}; stopped the group", status)
        restarts += 1
        remove_stale_temps(save)  # the group is gone: no writer is left
        if resume_given:
            where = _resume_point(save)
        elif _fingerprint(save) not in (None, before):  # this run has written a checkpoint
            group_argv, where = [*argv, "--resume", "auto"], _resume_point(save)
        else:
            group_argv, where = list(argv), "starting afresh (no checkpoint of this run yet)"
            if save_best and _fingerprint(save_best) not in (None, best_before):
                group_argv.append("--overwrite")  # --save-best holds this run's file: replace it
        print(f"restart {restarts}/{max_restarts}: {what}; {where}", file=sys.stderr, flush=True)


def launch(cfg, train_argv, parse_train):
    """Run the group `cfg` (a LaunchConfig) describes on `train_argv`; `parse_train(argv)`
    parses the train command line into a TrainJob (the CLI's). Returns 0 or raises (see
    `run_group`)."""
    argv = list(train_argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv[:1] != ["train"]:
        raise UsageError("launch runs a training command: rnnlm launch --workers N -- train [options]")
    job = parse_train(argv)
    if cfg.max_restarts and not job.run.save:
        raise UsageError(
            "--max-restarts needs --save PATH in the train command: a restarted group resumes from that checkpoint"
        )
    check_divisible(job.train.batch_size, cfg.workers)
    check_outputs(job.run, job.data.corpus)  # once, not in every worker
    load_training_data(job.data, job.train)  # catch bad data once, not in every worker
    engine = load_engine(backend_name_of(job))
    return run_group(
        engine,
        argv,
        cfg.workers,
        cfg.servers,
        cfg.max_restarts,
        job.run.save,
        resume_given=job.run.resume != "no",
        save_best=job.run.save_best,
    )
