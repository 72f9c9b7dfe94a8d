"""Data-parallel training on the frameworks' own engines, framework-neutral part.

Every worker draws the same global minibatches (same seed) and takes its own rows:

    global minibatch (batch_size rows)     worker 0: rows 0 .. b-1      b = batch_size / N
    row 0 ... row batch_size-1             worker 1: rows b .. 2b-1 ...

Each row keeps its hidden state on the worker that owns it, so the sequential iterator
still continues every row. Gradients are averaged over workers before clipping, so a step
is the same as one process over the whole minibatch; loss sums and token counts are summed
over workers at the end of each epoch. Rank 0 alone prints, plots, saves and writes metrics.

Each backend's engine module (`rnnlm.backends.<name>_engine`) says how its processes find
each other; this module holds only what every engine shares.
"""

from dataclasses import dataclass

from rnnlm.errors import UsageError

SUPERVISED = "RNNLM_LAUNCHED"  # set by `rnnlm launch` for its workers: it names a failure itself
# set by `rnnlm launch` for each worker it starts (not for helpers such as ps-lite's servers)
# to its index, 0 to N-1: one name for a worker, whatever variables its engine speaks
# (RANK, DMLC_ROLE, JAX_PROCESS_ID, TF_CONFIG); tools and tests find a group's workers by it
GROUP_WORKER = "RNNLM_GROUP_WORKER"


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self):
        return self.rank == 0


SINGLE = Group()


def check_divisible(batch_size, world_size):
    if batch_size % world_size:
        raise UsageError(
            f"--batch-size {batch_size} is not divisible by the {world_size} workers; "
            "each worker takes an equal share of every minibatch's rows"
        )


def check_same_start(backend, model, epoch, group):
    """Every worker must start after the same epoch: a --save file that not every worker
    sees (another machine's disk) would otherwise mix two runs silently. All workers see
    the same sums, so all of them stop together: the epochs e_i are all equal exactly when
    N * sum(e_i^2) == (sum e_i)^2."""
    total, squares = backend.all_reduce_sum(model, [float(epoch), float(epoch) ** 2])
    if group.world_size * squares != total**2:
        raise UsageError(
            f"the {group.world_size} workers start from different epochs (this one, rank "
            f"{group.rank}, after epoch {epoch}); --save must name one file every worker sees"
        )


def shard_rows(batches, group):
    """Each global (X, Y) minibatch cut to this worker's rows."""
    if group.world_size == 1:
        yield from batches
        return
    for X, Y in batches:
        rows = X.shape[0] // group.world_size
        lo = group.rank * rows
        yield X[lo : lo + rows], Y[lo : lo + rows]
