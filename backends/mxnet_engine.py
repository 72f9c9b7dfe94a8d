"""How MXNet workers form a group: ps-lite's scheduler, servers and workers, told where the
scheduler is by the DMLC_* variables. Imports no mxnet (importing it with DMLC_ROLE set
would start that role)."""

from .common.engine import ProcessSpec, python_argv, rnnlm_argv


def group_requested(environ):
    """True when the DMLC_* variables make this process a ps-lite worker."""
    return environ.get("DMLC_ROLE") == "worker"


def restart_note(environ):
    """None: ps-lite has no agent that restarts a group (`rnnlm launch` does, and says so)."""
    del environ
    return None


def group_processes(train_argv, workers, servers, port):
    """The processes of a one-machine group on loopback: a scheduler, S servers, N workers."""
    common = {
        "DMLC_PS_ROOT_URI": "127.0.0.1",
        "DMLC_PS_ROOT_PORT": str(port),
        "DMLC_NUM_SERVER": str(servers),
        "DMLC_NUM_WORKER": str(workers),
        "DMLC_NODE_HOST": "127.0.0.1",
        "DMLC_INTERFACE": "lo",
    }  # loopback only
    # importing mxnet with DMLC_ROLE=scheduler|server runs that role until the workers finish
    role = python_argv("from rnnlm.backends.mxnet_runtime import load; load()")
    procs = [ProcessSpec("scheduler", role, {**common, "DMLC_ROLE": "scheduler"}, worker=False)]
    procs += [ProcessSpec(f"server {i}", role, {**common, "DMLC_ROLE": "server"}, worker=False) for i in range(servers)]
    # ps-lite numbers the workers as they register
    procs += [
        ProcessSpec(f"worker {i}", rnnlm_argv(train_argv), {**common, "DMLC_ROLE": "worker"}, worker=True)
        for i in range(workers)
    ]
    return procs
