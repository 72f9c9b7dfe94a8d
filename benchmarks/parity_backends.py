"""Every training backend trained from the same weights on the same batches, compared pair by
pair: the largest per-epoch relative perplexity difference, and where it first exceeds 1e-9.
(A stand-in for an N-way `rnnlm compare` until compare takes --backends.)

    python benchmarks/parity_backends.py --epochs 40 --dtype float64
"""

import argparse
import itertools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.api import start_training
from rnnlm.backend import BACKENDS
from rnnlm.config import DataConfig, ModelConfig, RunOptions, TrainConfig


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--num-hiddens", type=int, default=256)
    args = parser.parse_args()
    curves = {}
    for name in args.backends.split(","):
        run = start_training(
            ModelConfig(num_hiddens=args.num_hiddens),
            TrainConfig(epochs=args.epochs, dtype=args.dtype),
            DataConfig(),
            RunOptions(quiet=True),
            backend=name,
            device="cpu",
        )
        metrics = run.run()
        curves[name] = [h["perplexity"] for h in metrics["history"]]
        print(
            f"{name}: final perplexity {curves[name][-1]:.12f}, {metrics['tokens_per_sec']:.0f} tokens/s, "
            f"{metrics['train_seconds']:.1f} s",
            flush=True,
        )
    for a, b in itertools.combinations(curves, 2):
        rel = [abs(x - y) / abs(y) for x, y in zip(curves[a], curves[b])]
        above = next((i + 1 for i, d in enumerate(rel) if d > 1e-9), None)
        print(
            f"{a} vs {b}: max relative difference {max(rel):.3e} over {len(rel)} epochs; "
            f"first epoch above 1e-9: {above or 'none'}"
        )


if __name__ == "__main__":
    main()
