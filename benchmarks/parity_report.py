"""Measured torch-vs-MXNet differences for each parity check (the README's Parity table).

    python benchmarks/parity_report.py

Same NumPy weights and the same batches in both frameworks; prints the largest difference
found over rnn/gru/lstm x 1-2 layers x uni/bidirectional, next to the tolerance the tests use.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.backend import build_model, load_backend
from rnnlm.data.batches import make_batches
from rnnlm.config import CELLS, ModelConfig, TrainConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.training.loop import train
from rnnlm.model.weights import init_weights

ARCHS = [(c, n, b) for c in CELLS for n in (1, 2) for b in (False, True)]


def pair(backends, cfg, dtype):
    weights = init_weights(cfg, 0, dtype)
    return [build_model(b, cfg, b.resolve_device("cpu"), dtype, weights) for b in backends]


def forward_and_grads(backends, dtype):
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, 28, (4, 9)), rng.integers(0, 28, (4, 9))
    fwd = grad = 0.0
    for cell, layers, bi in ARCHS:
        cfg = ModelConfig(28, 32, layers, cell, bi)
        models = pair(backends, cfg, dtype)
        outs = [b.forward(m, X, b.begin_state(m, 4)) for b, m in zip(backends, models)]
        fwd = max(
            fwd,
            np.abs(outs[0][0] - outs[1][0]).max(),
            *[np.abs(a - c).max() for a, c in zip(*(b.state_to_numpy(o[1]) for b, o in zip(backends, outs)))],
        )
        g = [b.loss_and_grads(m, b.begin_state(m, 4), X, Y)[1] for b, m in zip(backends, models)]
        grad = max(grad, max(np.abs(g[0][k] - g[1][k]).max() / np.abs(g[0][k]).max() for k in g[0]))
    return fwd, grad


def one_epoch_float32(backends):
    corpus, vocab = load_corpus(max_tokens=3000)
    worst = 0.0
    for cell, layers, bi in [("rnn", 1, False), ("gru", 2, False), ("lstm", 1, True)]:
        cfg = ModelConfig(len(vocab), 64, layers, cell, bi)
        losses = []
        for backend, model in zip(backends, pair(backends, cfg, "float32")):
            opt, state, per = backend.make_optimizer(model, 1.0), None, []
            for X, Y in make_batches(corpus, 8, 20, "sequential", np.random.default_rng(3)):
                state = backend.begin_state(model, 8) if state is None else backend.detach_state(state)
                state, s, _ = backend.train_step(model, opt, state, X, Y, 1.0)
                per.append(backend.to_float(s) / Y.size)
            losses.append(np.array(per))
        worst = max(worst, (np.abs(losses[0] - losses[1]) / np.abs(losses[1])).max())
    return worst


def forty_epochs_float64(backends):
    corpus, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab))
    curves = [
        np.array([h.perplexity for h in train(b, m, corpus, TrainConfig(epochs=40, dtype="float64"))])
        for b, m in zip(backends, pair(backends, cfg, "float64"))
    ]
    return (np.abs(curves[0] - curves[1]) / curves[1]).max()


def main():
    backends = [load_backend("torch"), load_backend("mxnet")]
    f32, g32 = forward_and_grads(backends, "float32")
    f64, g64 = forward_and_grads(backends, "float64")
    print("| check | measured | tolerance |")
    print("| --- | --- | --- |")
    print(f"| forward logits and final state, float32 (max abs) | {f32:.1e} | 1e-5 |")
    print(f"| forward logits and final state, float64 (max abs) | {f64:.1e} | 1e-12 |")
    print(f"| gradients, float32 (max abs / max abs grad) | {g32:.1e} | 1e-5 |")
    print(f"| gradients, float64 (max abs / max abs grad) | {g64:.1e} | 1e-12 |")
    print(
        "| one epoch with clipping, per-minibatch loss, float32 (relative) | "
        f"{one_epoch_float32(backends):.1e} | 1e-4 |"
    )
    print(
        "| 40 epochs default config, per-epoch perplexity, float64 (relative) | "
        f"{forty_epochs_float64(backends):.1e} | 1e-9 |"
    )


if __name__ == "__main__":
    main()
