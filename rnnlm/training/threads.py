"""How many threads a run computes with: chosen once, before the first minibatch, from
the command, the machine's cores and the model, never from timings.

The count decides how float sums are split among threads, hence their last bits, so it is
part of a run's identity: the checkpoint records it, a resumed run takes it up again, and
the same command on the same machine gives the same bits whatever else the machine is
doing. Speed beside other programs comes from how idle threads wait, which changes no
bits: OpenMP threads that spin at the end of every small parallel operation, while the
one they wait for is descheduled, collapse beside a busy process, so the frameworks load
with passive waiting (`framework_environment`; measured in benchmarks/bench_load.py).
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

MAX_THREADS = 1024  # a recorded count beyond this is not a count (checkpoints are hostile)

# The book's model (256 hidden, batch 32) does about this many multiply-adds a minibatch
# step; below it a matrix product is too small to split among threads for a gain.
SMALL_STEP = 32 * 256 * 256


def available_cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def env_threads(environ=None):
    """OMP_NUM_THREADS as a positive count (the user's or a launcher's), else None."""
    value = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_THREADS else None


def default_threads(cores, step_work):
    """The count a run takes when nothing asks for one: every core but one (the core left
    keeps the run at one thread's speed beside another busy program: two threads that meet
    at every small product wait for the one sharing a core), one for a model too small to
    split, and no more than one thread per SMALL_STEP / 4 of work (an unmeasured cap: a
    2-core machine cannot tell where more threads stop paying). `step_work`: multiply-adds
    of one time step of a minibatch (see `step_work`)."""
    if step_work < SMALL_STEP:
        return 1
    return max(1, min(cores - 1, step_work // (SMALL_STEP // 4)))


def step_work(batch_size, num_hiddens, vocab_size, gates=1):
    """Multiply-adds of one recurrent step over a minibatch: input and hidden products."""
    return batch_size * gates * num_hiddens * (num_hiddens + vocab_size)


@dataclass(frozen=True)
class Choice:
    count: int
    source: str                 # "--threads", "OMP_NUM_THREADS", "checkpoint", "default"
    note: Optional[str] = None  # one line for the user when a request was overruled


def choose(requested=0, recorded=None, environ=None, cores=None, work=SMALL_STEP, checkpoint=""):
    """The run's thread count: the checkpoint's when resuming (`recorded`), else --threads
    (`requested` > 0), else OMP_NUM_THREADS, else `default_threads`. A resume asked to use
    another count keeps the recorded one and says so: a run keeps its count to the end."""
    asked = (requested, "--threads") if requested else (env_threads(environ), "OMP_NUM_THREADS")
    if recorded is not None:
        note = None
        if asked[0] is not None and asked[0] != recorded:
            note = (f"note: resuming with the {plural(recorded)} '{checkpoint}' was trained with, not "
                    f"{asked[1]} {asked[0]}, so that the run ends where an uninterrupted one would")
        return Choice(recorded, "checkpoint", note)
    if asked[0] is not None:
        return Choice(asked[0], asked[1])
    return Choice(default_threads(available_cores() if cores is None else cores, work), "default")


def plural(n):
    return f"{n} thread" if n == 1 else f"{n} threads"


# ---- what a framework reads when it loads ----------------------------------------------

_planned: Optional[int] = None


def plan(count):
    """The count for a framework that fixes it when it loads (MXNet): set before it loads."""
    global _planned
    _planned = count


def planned():
    """The planned count, else OMP_NUM_THREADS, else the default for the book's model."""
    if _planned is not None:
        return _planned
    return env_threads() or default_threads(available_cores(), SMALL_STEP)


@contextmanager
def framework_environment(**variables):
    """Import a framework inside this: its OpenMP runtime waits passively (unless the user
    chose OMP_WAIT_POLICY), and `variables` (None: removed) hold while it loads. Everything
    is put back afterwards, so no child process mistakes them for the user's settings."""
    wanted = dict(variables)
    if "OMP_WAIT_POLICY" not in os.environ:
        wanted["OMP_WAIT_POLICY"] = "PASSIVE"
    saved = {name: os.environ.get(name) for name in wanted}
    try:
        for name, value in wanted.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
