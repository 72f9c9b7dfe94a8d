"""How many threads a run computes with: chosen once, before the first minibatch, from
the command, the machine's cores and the model, never from timings.

The count decides how float sums are split among threads, hence their last bits, so it is
part of a run's identity: the checkpoint records it, a resumed run takes it up again, and
the same command on the same machine gives the same bits whatever else the machine is
doing. The count chosen here is handed to the backend when it loads
(`rnnlm.backend.load_backend(name, threads)`), and what a run records is the count the
backend reports it really computes with. How idle threads wait is the backends' own
(`rnnlm.backends.common.runtime`).
"""

import os
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


def default_threads(cores, step_work, split_factor=1):
    """The count a run takes when nothing asks for one: every core, one for a model too
    small to split, and no more than one thread per SMALL_STEP / 4 of work (an unmeasured
    cap: a 2-core machine cannot tell where more threads stop paying). `step_work`:
    multiply-adds of one time step of a minibatch (see `step_work`); `split_factor`: the
    backend's (`BackendSpec.split_factor`, 3 for every backend today): a model is too small
    to split below split_factor x SMALL_STEP. Measured on 2-core VMs, the book's model
    (1.1x SMALL_STEP) ran faster on one thread than on two passive ones, idle and beside a
    busy core, with each backend's fused step (docs/results/2026-12-03-onednn-and-one-thread.md;
    spinning threads are faster idle and collapse beside a busy core)."""
    if step_work < split_factor * SMALL_STEP:
        return 1
    return max(1, min(cores, step_work // (SMALL_STEP // 4)))


def step_work(batch_size, num_hiddens, vocab_size, gates=1):
    """Multiply-adds of one recurrent step over a minibatch: input and hidden products."""
    return batch_size * gates * num_hiddens * (num_hiddens + vocab_size)


@dataclass(frozen=True)
class Choice:
    count: int
    source: str  # "--threads", "OMP_NUM_THREADS", "checkpoint", "default"
    note: Optional[str] = None  # one line for the user when a request was overruled


def choose(requested=0, recorded=None, environ=None, cores=None, work=SMALL_STEP, checkpoint="", split_factor=1):
    """The run's thread count: the checkpoint's when resuming (`recorded`), else --threads
    (`requested` > 0), else OMP_NUM_THREADS, else `default_threads` (with the backend's
    `split_factor`). A resume asked to use
    another count keeps the recorded one and says so: a run keeps its count to the end."""
    asked = (requested, "--threads") if requested else (env_threads(environ), "OMP_NUM_THREADS")
    if recorded is not None:
        note = None
        if asked[0] is not None and asked[0] != recorded:
            note = (
                f"note: resuming with the {plural(recorded)} '{checkpoint}' was trained with, not "
                f"{asked[1]} {asked[0]}, so that the run ends where an uninterrupted one would"
            )
        return Choice(recorded, "checkpoint", note)
    if asked[0] is not None:
        return Choice(asked[0], asked[1])
    return Choice(default_threads(available_cores() if cores is None else cores, work, split_factor), "default")


def plural(n):
    return f"{n} thread" if n == 1 else f"{n} threads"


# compress's own defaults; the file records the count and its decoder computes with the same.
# With a checkpoint, coding runs one small forward a character, where a second thread still
# pays; --online trains on a worker thread beside the coder, which has the other core (on the
# book, 2-core EPYC: 4.0 kB/s each way at 1 thread, 3.6 and 3.3 at 2; benchmarks/bench_online.py)
CODING_THREADS = 2
ONLINE_CODING_THREADS = 1


def coding_choice(requested=0, online=False):
    """compress's thread count: `requested` (--threads) when above 0, else CODING_THREADS, or
    ONLINE_CODING_THREADS `online`."""
    if requested:
        return Choice(requested, "--threads")
    return Choice(ONLINE_CODING_THREADS if online else CODING_THREADS, "default")
