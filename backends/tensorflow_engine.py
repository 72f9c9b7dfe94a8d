"""How TensorFlow workers form a group: the `TF_CONFIG` variable that
`tf.distribute.MultiWorkerMirroredStrategy` itself reads (the cluster's worker addresses
and this process's task). Imports no tensorflow, so the launcher and the group check stay
light.

TensorFlow has no launcher for plain processes; `rnnlm launch` writes one TF_CONFIG per
process, and on other machines a user writes them by hand, one process each:

    TF_CONFIG='{"cluster": {"worker": ["host0:2222", "host1:2222"]},
                "task": {"type": "worker", "index": 0}}' rnnlm train --backend tensorflow
"""

import json

from .common.engine import ProcessSpec, rnnlm_argv

VARIABLE = "TF_CONFIG"


def group_of(environ):
    """(worker addresses, this process's index) from TF_CONFIG; ([], 0) when it names none.
    A TF_CONFIG that is not the JSON TensorFlow reads names no group either: the strategy
    would refuse it, and a single process needs none."""
    try:
        config = json.loads(environ.get(VARIABLE, "") or "{}")
        workers = config.get("cluster", {}).get("worker", [])
        index = int(config.get("task", {}).get("index", 0))
    except (ValueError, AttributeError, TypeError):
        return [], 0
    if not isinstance(workers, list) or not all(isinstance(w, str) for w in workers):
        return [], 0
    return workers, index


def group_requested(environ):
    """True when TF_CONFIG makes this process one of two or more workers."""
    return len(group_of(environ)[0]) > 1


def restart_note(environ):
    """None: TensorFlow has no agent that restarts a group (`rnnlm launch` does, and says so)."""
    del environ
    return None


def group_processes(train_argv, workers, servers, port):
    """The processes of a one-machine group on loopback: N workers at ports port, port+1, ...
    (the launcher found `port` free; the next ones are its neighbours)."""
    del servers  # the collectives need no parameter servers
    addresses = [f"127.0.0.1:{port + rank}" for rank in range(workers)]
    return [
        ProcessSpec(
            f"rank {rank}",
            rnnlm_argv(train_argv),
            {VARIABLE: json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": rank}})},
            worker=True,
        )
        for rank in range(workers)
    ]
