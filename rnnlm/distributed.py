"""Data-parallel training on the frameworks' own engines, framework-neutral part.

Every worker draws the same global minibatches (same seed) and takes its own rows:

    global minibatch (batch_size rows)     worker 0: rows 0 .. b-1      b = batch_size / N
    row 0 ... row batch_size-1             worker 1: rows b .. 2b-1 ...

Each row keeps its hidden state on the worker that owns it, so the sequential iterator
still continues every row. Gradients are averaged over workers before clipping, so a step
is the same as one process over the whole minibatch; loss sums and token counts are summed
over workers at the end of each epoch. Rank 0 alone prints, plots, saves and writes metrics.

Which engine runs is read from the environment the launchers set:
- PyTorch, `torchrun` (or `rnnlm launch`): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT;
- MXNet, ps-lite (or `rnnlm launch`): DMLC_ROLE=worker, DMLC_PS_ROOT_URI/PORT, DMLC_NUM_*.
"""

import os
from dataclasses import dataclass

from rnnlm.errors import UsageError


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self):
        return self.rank == 0


SINGLE = Group()


def available_cores():
    """The cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def requested(backend_name, environ=None):
    """True when the launcher's variables ask this process to join a group."""
    environ = os.environ if environ is None else environ
    if backend_name == "torch":
        return int(environ.get("WORLD_SIZE", "1") or 1) > 1
    if backend_name == "mxnet":
        return environ.get("DMLC_ROLE") == "worker"
    return False


def check_divisible(batch_size, world_size):
    if batch_size % world_size:
        raise UsageError(f"--batch-size {batch_size} is not divisible by the {world_size} workers; "
                         "each worker takes an equal share of every minibatch's rows")


def shard_rows(batches, group):
    """Each global (X, Y) minibatch cut to this worker's rows."""
    if group.world_size == 1:
        yield from batches
        return
    for X, Y in batches:
        rows = X.shape[0] // group.world_size
        lo = group.rank * rows
        yield X[lo:lo + rows], Y[lo:lo + rows]
