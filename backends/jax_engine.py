"""How JAX workers form a group: `jax.distributed`'s coordinator on one rank, found through
the variables JAX itself reads (`JAX_COORDINATOR_ADDRESS`) plus the group's size and this
process's place in it. Imports no jax, so the launcher and the group check stay light.

JAX has no launcher of its own for plain processes (its auto-detection covers SLURM, Open
MPI and cloud TPUs); `rnnlm launch` sets the variables, and on other machines a user sets
them by hand, one process each:

    JAX_COORDINATOR_ADDRESS=HOST0:PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 rnnlm train --backend jax
"""

from .common.engine import ProcessSpec, rnnlm_argv

COORDINATOR = "JAX_COORDINATOR_ADDRESS"  # jax.distributed.initialize reads it itself
NUM_PROCESSES = "JAX_NUM_PROCESSES"
PROCESS_ID = "JAX_PROCESS_ID"


def group_requested(environ):
    """True when the variables make this process one of a group of two or more."""
    return bool(environ.get(COORDINATOR)) and int(environ.get(NUM_PROCESSES, "1") or 1) > 1


def group_of(environ):
    """(coordinator address, number of processes, this process's id) from the variables."""
    return environ[COORDINATOR], int(environ[NUM_PROCESSES]), int(environ.get(PROCESS_ID, "0") or 0)


def restart_note(environ):
    """None: JAX has no agent that restarts a group (`rnnlm launch` does, and says so)."""
    del environ
    return None


def group_processes(train_argv, workers, servers, port):
    """The processes of a one-machine group on loopback: N ranks, rank 0 the coordinator."""
    del servers  # JAX needs no parameter servers
    common = {COORDINATOR: f"127.0.0.1:{port}", NUM_PROCESSES: str(workers)}
    return [
        ProcessSpec(f"rank {rank}", rnnlm_argv(train_argv), {**common, PROCESS_ID: str(rank)}, worker=True)
        for rank in range(workers)
    ]
