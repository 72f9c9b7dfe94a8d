"""Training tokens/s: rnnlm against the book-style loop, side by side, per backend.

    python benchmarks/bench_train.py                 # default config, both backends
    python benchmarks/bench_train.py --grid          # rnn/gru/lstm x hidden 256/512 x batch 32/128

Each round runs one epoch of the baseline and one of rnnlm on the same batches, alternating,
after a warm-up epoch of each; prints one JSON line per (backend, config) with the median
and spread of tokens/s and the ratio, then a table.
"""

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import book_style
from rnnlm.backend import BACKENDS, load_backend
from rnnlm.data.batches import make_batches
from rnnlm.config import CELLS, ModelConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.errors import UsageError
from rnnlm.training.loop import train_epoch
from rnnlm.model.weights import init_weights


def rnnlm_epoch_fn(backend, cfg, weights, lr):
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float32")
    backend.set_weights(model, weights)
    optimizer = backend.make_optimizer(model, lr)

    def epoch(batches):
        ppl, speed, *_ = train_epoch(backend, model, optimizer, batches, 1.0, False)
        return ppl, speed

    return epoch


def measure(backend, cell, hiddens, batch_size, rounds, num_steps=35, lr=1.0):
    corpus, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab), hiddens, cell=cell)
    weights = init_weights(cfg, 0)
    runners = {"rnnlm": rnnlm_epoch_fn(backend, cfg, weights, lr)}
    if book_style.supports(cfg, backend.NAME):
        runners["book"] = book_style.EPOCH_FNS[backend.NAME](cfg, weights, lr)
    speeds = {name: [] for name in runners}
    first_ppl = {}
    for r in range(rounds + 1):  # round 0 is the warm-up
        for name, epoch in runners.items():
            batches = make_batches(corpus, batch_size, num_steps, "sequential", np.random.default_rng(r))
            ppl, speed = epoch(batches)
            first_ppl.setdefault(name, ppl)
            if r > 0:
                speeds[name].append(speed)
    row = {
        "backend": backend.NAME,
        "model": cell,
        "num_hiddens": hiddens,
        "batch_size": batch_size,
        "num_steps": num_steps,
        "rounds": rounds,
        "first_epoch_perplexity": first_ppl,
    }
    for name, values in speeds.items():
        row[name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    if "book" in row:
        row["speedup"] = row["rnnlm"]["median"] / row["book"]["median"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    configs = list(itertools.product(CELLS, (256, 512), (32, 128))) if args.grid else [("rnn", 256, 32)]
    names = args.backends.split(",")
    if len(names) > 1:
        # one process per backend: importing mxnet changes torch's thread pool
        rows = []
        for name in names:
            cmd = [sys.executable, __file__, "--backends", name, "--rounds", str(args.rounds)]
            out = subprocess.run(cmd + (["--grid"] if args.grid else []), capture_output=True, text=True)
            sys.stderr.write("".join(line + "\n" for line in out.stderr.splitlines() if line.startswith("#")))
            rows += [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    print(line, flush=True)
    else:
        rows = []
        try:
            backend = load_backend(names[0])
        except UsageError as exc:
            print(f"# skipped {names[0]}: {exc}", file=sys.stderr)
            return
        for cell, hiddens, batch in configs:
            row = measure(backend, cell, hiddens, batch, args.rounds)
            rows.append(row)
            print(json.dumps(row), flush=True)
        return
    print("\n| backend | model | hidden | batch | book tokens/s | rnnlm tokens/s (min-max) | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        book = f"{r['book']['median']:.0f}" if "book" in r else "-"
        ratio = f"{r['speedup']:.2f}x" if "speedup" in r else "-"
        print(
            f"| {r['backend']} | {r['model']} | {r['num_hiddens']} | {r['batch_size']} | {book} | "
            f"{r['rnnlm']['median']:.0f} ({r['rnnlm']['min']:.0f}-{r['rnnlm']['max']:.0f}) | {ratio} |"
        )


if __name__ == "__main__":
    main()
