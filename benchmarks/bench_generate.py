"""Greedy generation chars/s (batch 1, 500 characters): rnnlm's `predict` against the
book's `predict_ch8`, which calls the model once per character (warm-up included) and
reads every prediction back to the host.

    python benchmarks/bench_generate.py [--backends torch,mxnet] [--repeats 3]

Each side runs in its own fresh process, as its user runs it: the book's loop with the
framework's default thread count (every core), rnnlm's `predict` with the count
`rnnlm predict` chooses for a batch-1 model (`rnnlm.api.load(..., batch_size=1)`). A
framework such as MXNet fixes its count when it loads, so one process could not give each
its own. The book's side is d2l 0.17.6 itself for torch and MXNet (its `RNNModel` loading
the book's file of the weights, then its `predict_ch8`); for JAX (no chapter) and TensorFlow
(a Keras model of its own) it is `predict_ch8` written in the backend's terms, on the same
weights. Processes alternate, so a drift of the machine touches both alike; the figure is
the median over all rounds.
"""

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import rnnlm
from rnnlm import threads as thread_counts
from rnnlm.backend import BACKENDS, build_model, load_backend
from rnnlm.checkpoints.file import save_checkpoint
from rnnlm.config import CELLS, ModelConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.errors import UsageError
from rnnlm.model.weights import init_weights
from rnnlm.study.common import table

PREFIX = "time traveller "


def book_predict(backend, model, vocab, prefix, num_preds):
    """d2l's predict_ch8 in the backend's terms, for a backend d2l 0.17.6 has no model for
    (JAX: no chapter; TensorFlow: a Keras model of its own): one model call per character."""
    state = backend.begin_state(model, 1)
    outputs = [vocab[prefix[0]]]
    for y in prefix[1:]:  # warm-up
        _, state = backend.forward(model, np.array([[outputs[-1]]]), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = backend.forward(model, np.array([[outputs[-1]]]), state)
        outputs.append(int(y.argmax(axis=1).reshape(1)[0]))
    return "".join(vocab.idx_to_token[i] for i in outputs)


def d2l_predict(name, cfg, vocab, weights, num_chars):
    """d2l 0.17.6's own `RNNModel` and `predict_ch8` on `weights`, for torch and MXNet (None
    for another backend): the book's file of the weights (rnnlm's exporter) loaded as the
    book loads it."""
    from benchmarks.bench_book import prepare_for_d2l

    fmt = {"torch": "torch_format", "mxnet": "mxnet_format"}.get(name)
    if fmt is None:
        return None
    prepare_for_d2l(name)
    data = importlib.import_module(f"rnnlm.backends.{fmt}").write(cfg, weights, vocab, "float32")
    path = os.path.join(tempfile.mkdtemp(), "book.params")
    with open(path, "wb") as f:
        f.write(data)
    if name == "torch":
        import torch
        from d2l import torch as d2l

        layer = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cfg.cell](
            cfg.vocab_size, cfg.num_hiddens
        )
        net = d2l.RNNModel(layer, vocab_size=cfg.vocab_size)
        net.load_state_dict(torch.load(path, weights_only=True))
        device = torch.device("cpu")
    else:
        from d2l import mxnet as d2l
        from mxnet import cpu, npx
        from mxnet.gluon import rnn

        npx.set_np()  # as the book's notebooks begin

        extra = {"activation": cfg.activation} if cfg.cell == "rnn" else {}
        net = d2l.RNNModel(
            {"rnn": rnn.RNN, "gru": rnn.GRU, "lstm": rnn.LSTM}[cfg.cell](cfg.num_hiddens, **extra), cfg.vocab_size
        )
        net.load_parameters(path)
        device = cpu()
    return lambda: d2l.predict_ch8(PREFIX, num_chars, net, vocab, device)


def child(role, name, cell, num_chars, rounds):
    """Runs in the fresh process: one JSON line of this side's chars/s, a warm-up first."""
    _, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab), 256, cell=cell)
    if role == "book":  # the frameworks' own default count: every core
        backend = load_backend(name, thread_counts.available_cores())
        run = d2l_predict(name, cfg, vocab, init_weights(cfg, 0), num_chars)
        if run is None:
            model = build_model(backend, cfg, backend.resolve_device("cpu"), "float32", init_weights(cfg, 0))
            run = lambda: book_predict(backend, model, vocab, PREFIX, num_chars)  # noqa: E731
    else:  # as `rnnlm predict` runs: its checkpoint loaded for batch 1, then predict
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.npz")
            save_checkpoint(path, cfg, vocab, init_weights(cfg, 0), "float32")
            loaded = rnnlm.load(path, backend=name, device="cpu", batch_size=1)
        backend = loaded.backend
        run = lambda: loaded.predict(PREFIX, num_chars)  # noqa: E731
    text, speeds = run(), []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        speeds.append(num_chars / (time.perf_counter() - start))
    print(json.dumps({"threads": backend.num_threads(), "text": text, "speeds": speeds}), flush=True)


def run_child(role, name, cell, num_chars, rounds):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", role, "--backends", name, "--cell", cell]
        + ["--num-chars", str(num_chars), "--rounds", str(rounds)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},  # each side's own default
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise SystemExit(f"error: the {role} side on {name} failed: {(out.stderr.strip().splitlines() or [''])[-1]}")
    return json.loads(lines[-1])


def measure(name, cell, num_chars, rounds, repeats):
    speeds, texts, counts = {"book": [], "rnnlm": []}, {}, {}
    for _ in range(repeats):
        for role in speeds:
            got = run_child(role, name, cell, num_chars, rounds)
            speeds[role] += got["speeds"]
            texts[role], counts[role] = got["text"], got["threads"]
    row = {"backend": name, "model": cell, "num_chars": num_chars, "threads": counts}
    row["same_text"] = texts["book"] == texts["rnnlm"]
    for role, values in speeds.items():
        row[role] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    row["speedup"] = row["rnnlm"]["median"] / row["book"]["median"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--num-chars", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs a process")
    parser.add_argument("--repeats", type=int, default=3, help="processes a side, alternating")
    parser.add_argument("--cell", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["book", "rnnlm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.backends, args.cell, args.num_chars, args.rounds)
    from benchmarks.machine import cpu_name

    print(f"# {cpu_name()}, {thread_counts.available_cores()} cores", flush=True)
    rows = []
    for name in args.backends.split(","):
        try:
            load_backend(name)  # installed? (the measuring happens in fresh processes)
        except UsageError as exc:
            print(f"# skipped {name}: {exc}", file=sys.stderr)
            continue
        for cell in CELLS:
            row = measure(name, cell, args.num_chars, args.rounds, args.repeats)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(
        "\n"
        + table(
            ["backend", "model", "book chars/s", "rnnlm chars/s", "speed-up", "threads book / rnnlm", "same text"],
            [
                [
                    r["backend"],
                    r["model"],
                    f"{r['book']['median']:.0f}",
                    f"{r['rnnlm']['median']:.0f}",
                    f"{r['speedup']:.2f}x",
                    f"{r['threads']['book']} / {r['threads']['rnnlm']}",
                    r["same_text"],
                ]
                for r in rows
            ],
        ),
        end="",
    )


if __name__ == "__main__":
    main()
