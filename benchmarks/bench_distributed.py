"""Data-parallel training tokens/s with 1 and 2 workers (rnnlm launch, loopback), and the
communication volume per step, per backend.

    python benchmarks/bench_distributed.py [--epochs 20] [--dtype float32]

On a 2-core machine two workers share the cores, so expect no speed-up: this records what
the engines cost, honestly.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.config import ModelConfig
from rnnlm.model.weights import canonical_shapes

BYTES = {"float32": 4, "float64": 8}


def run(backend, workers, epochs, dtype):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "m.json")
        train = [
            "train",
            "--backend",
            backend,
            "--epochs",
            str(epochs),
            "--dtype",
            dtype,
            "--quiet",
            "--metrics-json",
            out,
        ]
        cmd = [sys.executable, "-m", "rnnlm"] + (["launch", "--workers", str(workers), "--"] if workers > 1 else [])
        proc = subprocess.run(cmd + train, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{backend} x{workers} failed: {proc.stderr.strip()[-500:]}")
        with open(out) as f:
            history = json.load(f)["history"]
    speeds = [h["tokens_per_sec"] for h in history[1:]]  # epoch 1 includes start-up
    return statistics.median(speeds), min(speeds), max(speeds)


def volume_per_step(backend, dtype):
    """Bytes one worker sends (and receives) per optimizer step for the gradients."""
    params = sum(int(np.prod(shape)) for shape in canonical_shapes(ModelConfig(28)).values())
    if backend == "torch":  # ring all-reduce with N=2: each worker sends 2 (N-1)/N = 1 buffer
        return params * BYTES[dtype], params
    # ps-lite: push all gradients, pull their sum; float64 travels as three float32 chunks
    per_value = 4 if dtype == "float32" else 12
    return params * per_value, params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    print("| backend | workers | tokens/s median (min-max) | gradient bytes sent per step per worker |")
    print("| --- | --- | --- | --- |")
    for backend in ("torch", "mxnet"):
        for workers in (1, 2):
            med, lo, hi = run(backend, workers, args.epochs, args.dtype)
            sent, params = volume_per_step(backend, args.dtype)
            volume = "-" if workers == 1 else f"{sent / 1024:.0f} KiB ({params} {args.dtype} values)"
            print(f"| {backend} | {workers} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {volume} |", flush=True)


if __name__ == "__main__":
    main()
