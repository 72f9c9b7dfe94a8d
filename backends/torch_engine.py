"""How PyTorch workers form a group: the variables torchrun sets. Imports no torch, so the
launcher and the group check stay light.

`torchrun` itself (its elastic agent) is the engine's own launcher and is used as it is;
`rnnlm launch` starts the same group as `torchrun --standalone` would, so that it can
supervise it beside MXNet's.
"""

from .common.engine import ProcessSpec, rnnlm_argv


def group_requested(environ):
    """True when torchrun (or `rnnlm launch`) asks this process to join a group."""
    return int(environ.get("WORLD_SIZE", "1") or 1) > 1


def restart_note(environ):
    """How torchrun's elastic agent started this group ('restart 1/3 by torchrun'), said
    when the group resumes; None outside torchrun. The count is this node's: a node whose
    workers were healthy restarts them for the others without counting it."""
    if "TORCHELASTIC_RUN_ID" not in environ:
        return None
    count = int(environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
    if not count:
        return "torchrun started the group"
    return f"restart {count}/{environ.get('TORCHELASTIC_MAX_RESTARTS', '?')} by torchrun"


def group_processes(train_argv, workers, servers, port):
    """The processes of a one-machine group on loopback: N ranks, no helpers."""
    del servers  # torch needs no parameter servers
    common = {
        "WORLD_SIZE": str(workers),
        "LOCAL_WORLD_SIZE": str(workers),
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "GLOO_SOCKET_IFNAME": "lo",
    }  # gloo too talks over loopback only
    return [
        ProcessSpec(
            f"rank {rank}", rnnlm_argv(train_argv), {**common, "RANK": str(rank), "LOCAL_RANK": str(rank)}, worker=True
        )
        for rank in range(workers)
    ]
