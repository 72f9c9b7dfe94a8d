"""Training speed beside another busy process: rnnlm's default threads against the levers.

    python benchmarks/bench_load.py [--epochs 15] [--repeats 3] [--backends torch,mxnet,jax,tensorflow]

For each backend, `rnnlm train --epochs N` (the book's config) runs as a user runs it, in a
fresh process, under eight conditions: the machine idle or beside a one-core busy loop, and
one thread (OMP_NUM_THREADS=1); every core with OpenMP's threads spinning while they wait
(GOMP_SPINCOUNT=300000, libgomp's own default); every core waiting passively (rnnlm's
OMP_WAIT_POLICY=PASSIVE); or rnnlm's default (no variable set: a count chosen once from the
cores and the model). Conditions alternate within each repeat, so a drift in the machine's
speed touches all alike. The figure is the run's mean tokens/s (tokens of all epochs after
the first / their seconds). JAX computes with XLA's own thread pool, not OpenMP: its conditions
are one thread (XLA_FLAGS: Eigen single-threaded, one intra-op thread) and rnnlm's default
(XLA's pool as it comes). The target: beside the busy loop, rnnlm's default reaches
>= 80% of one thread on an idle machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import cpu_name
from rnnlm.threads import available_cores

BUSY_LOOP = "while True: pass"


@contextmanager
def busy_loops(count):
    """`count` one-core busy loops running for the duration of the block."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        yield
    finally:
        for p in loops:
            p.kill()
            p.wait()


LEVERS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MXNET_OMP_MAX_THREADS", "XLA_FLAGS")
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def conditions(backend, cores):
    """The thread settings measured for `backend`, by name."""
    if backend == "jax":
        return {"1 thread": {"XLA_FLAGS": XLA_ONE_THREAD}, "rnnlm default": {}}
    if backend == "tensorflow":  # Eigen's pool, not OpenMP: sized from rnnlm's count (OMP_NUM_THREADS)
        return {
            "1 thread": {"OMP_NUM_THREADS": "1"},
            f"{cores} threads": {"OMP_NUM_THREADS": str(cores)},
            "rnnlm default": {},
        }
    return {
        "1 thread": {"OMP_NUM_THREADS": "1"},
        f"{cores} threads, spinning": {"OMP_NUM_THREADS": str(cores), "GOMP_SPINCOUNT": "300000"},
        f"{cores} threads, passive": {"OMP_NUM_THREADS": str(cores)},
        "rnnlm default": {},
    }


def run_once(backend, epochs, variables):
    """Mean tokens/s over epochs 2..N of one `rnnlm train` process."""
    env = {k: v for k, v in os.environ.items() if k not in LEVERS}
    env.update(variables)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.json")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rnnlm",
                "train",
                "--backend",
                backend,
                "--epochs",
                str(epochs),
                "--quiet",
                "--metrics-json",
                out,
            ],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        history = json.load(open(out))["history"][1:]
    tokens = sum(h["tokens_per_sec"] * h["seconds"] for h in history)
    return tokens / sum(h["seconds"] for h in history)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="torch,mxnet,jax,tensorflow")
    args = parser.parse_args()
    cores = available_cores()
    print(
        f"# {cpu_name()}, {cores} cores; rnnlm train --epochs {args.epochs}; tokens/s, median of {args.repeats}",
        flush=True,
    )
    results = {}
    for backend in args.backends.split(","):
        settings = conditions(backend, cores)
        for load in ("idle", "busy"):
            with busy_loops(1 if load == "busy" else 0):
                time.sleep(0.5 if load == "busy" else 0)
                samples = {name: [] for name in settings}
                for _ in range(args.repeats):
                    for name, variables in settings.items():
                        samples[name].append(run_once(backend, args.epochs, variables))
            for name, values in samples.items():
                results[(backend, load, name)] = statistics.median(values)
                print(
                    json.dumps(
                        {
                            "backend": backend,
                            "load": load,
                            "threads": name,
                            "tokens_per_sec": [round(v) for v in values],
                        }
                    ),
                    flush=True,
                )
    print("\n| backend | threads | idle tok/s | beside a busy core tok/s | busy / idle 1 thread |")
    print("|---|---|---|---|---|")
    for backend in args.backends.split(","):
        base = results[(backend, "idle", "1 thread")]
        for name in conditions(backend, cores):
            idle, busy = results[(backend, "idle", name)], results[(backend, "busy", name)]
            print(f"| {backend} | {name} | {idle:,.0f} | {busy:,.0f} | {busy / base:.2f} |")


if __name__ == "__main__":
    main()
