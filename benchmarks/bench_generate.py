"""Greedy generation chars/s (batch 1, 500 characters): rnnlm's `predict` against the
book's `predict_ch8`, which calls the model once per character (warm-up included) and
reads every prediction back to the host.

    python benchmarks/bench_generate.py
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.backend import BACKENDS, load_backend
from rnnlm.config import CELLS, ModelConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.errors import UsageError
from rnnlm.model.generate import predict
from rnnlm.model.weights import init_weights
from rnnlm.study.common import table

PREFIX = "time traveller "


def book_predict(backend, model, vocab, prefix, num_preds):
    """d2l's predict_ch8 in the backend's terms: one model call per character."""
    state = backend.begin_state(model, 1)
    outputs = [vocab[prefix[0]]]
    for y in prefix[1:]:  # warm-up
        _, state = backend.forward(model, np.array([[outputs[-1]]]), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = backend.forward(model, np.array([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(axis=1).reshape(1)[0]))
    return "".join(vocab.idx_to_token[i] for i in outputs)


def measure(backend, cell, num_chars, rounds):
    _, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab), 256, cell=cell)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float32")
    backend.set_weights(model, init_weights(cfg, 0))
    runners = {
        "book": lambda: book_predict(backend, model, vocab, PREFIX, num_chars),
        "rnnlm": lambda: predict(backend, model, vocab, PREFIX, num_chars),
    }
    texts = {name: run() for name, run in runners.items()}  # warm-up, and the same text
    speeds = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            speeds[name].append(num_chars / (time.perf_counter() - start))
    row = {"backend": backend.NAME, "model": cell, "num_chars": num_chars, "same_text": texts["book"] == texts["rnnlm"]}
    for name, values in speeds.items():
        row[name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    row["speedup"] = row["rnnlm"]["median"] / row["book"]["median"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--num-chars", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name in args.backends.split(","):
        try:
            backend = load_backend(name)
        except UsageError as exc:
            print(f"# skipped {name}: {exc}", file=sys.stderr)
            continue
        for cell in CELLS:
            row = measure(backend, cell, args.num_chars, args.rounds)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        "\n"
        + table(
            ["backend", "model", "book chars/s", "rnnlm chars/s", "speed-up", "same text"],
            [
                [
                    r["backend"],
                    r["model"],
                    f"{r['book']['median']:.0f}",
                    f"{r['rnnlm']['median']:.0f}",
                    f"{r['speedup']:.2f}x",
                    r["same_text"],
                ]
                for r in rows
            ],
        ),
        end="",
    )


if __name__ == "__main__":
    main()
