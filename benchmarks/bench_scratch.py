"""Exercise 1's speed question on a quiet machine: the book's from-scratch RNN against the
concise model, tokens/s side by side (the study's own trainers, one thread, the full grid's
model: 256 hidden units, batch 32 x 35, the first 10,000 characters).

    python benchmarks/bench_scratch.py [--rounds 3] [--backends torch,mxnet,jax]

Each round trains each model for 3 epochs from the same weights, alternating; the figure is the
median over rounds of epochs 2-3 (epoch 1 holds allocation and, on JAX, compilation).
`rnnlm study scratch` records tokens/s too, but each variant in its own process at its own
moment, so under a changing load its column is not a comparison; this is.
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.study import scratch

VARIANTS = ("scratch", "concise")


def measure(backend, rounds):
    c = {
        **scratch.FULL,
        "epochs": 3,
        "batch_size": 32,
        "num_steps": 35,
        "lr": 1.0,
        "seed": 0,
        "dtype": "float32",
        "backend": backend,
    }
    speeds = {v: [] for v in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            history = scratch.run({**c, "variant": variant})["history"]
            speeds[variant].append(statistics.median(h["tokens_per_sec"] for h in history[1:]))
    return {v: statistics.median(s) for v, s in speeds.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="torch,mxnet,jax")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        r = measure(args.one, args.rounds)
        print(
            f"| {args.one} | {r['scratch']:,.0f} | {r['concise']:,.0f} | {r['concise'] / r['scratch']:.2f}x |",
            flush=True,
        )
        return
    from benchmarks.machine import cpu_name

    print(f"# {cpu_name()}; one thread; median of {args.rounds} alternating rounds\n")
    print(
        "| backend | from scratch tokens/s | concise tokens/s | concise / scratch |\n| --- | --- | --- | --- |",
        flush=True,
    )
    for backend in args.backends.split(","):  # one process each: frameworks' thread pools never meet
        subprocess.run([sys.executable, __file__, "--one", backend, "--rounds", str(args.rounds)])


if __name__ == "__main__":
    main()
