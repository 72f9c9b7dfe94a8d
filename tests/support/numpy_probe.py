"""Run by tests/test_numpy_versions.py under one interpreter (one NumPy): writes to
OUT.npz what the core computes — initial weights, batches, a small float64 torch run's
final weights and perplexities, and its checkpoint — so two NumPys can be compared."""

import json
import os
import sys
import warnings

import numpy as np

import rnnlm
from rnnlm.data.batches import make_batches
from rnnlm.config import ModelConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.model.weights import init_weights


def main(out):
    arrays = {}
    cfg = ModelConfig(num_hiddens=16, cell="gru", vocab_size=28)
    for dtype in ("float32", "float64"):
        for name, w in init_weights(cfg, seed=3, dtype=dtype).items():
            arrays[f"init/{dtype}/{name}"] = w
    corpus, _ = load_corpus(max_tokens=3000)
    for kind in ("sequential", "random"):
        batches = list(make_batches(np.asarray(corpus), 4, 7, kind, np.random.default_rng(5)))
        arrays[f"batches/{kind}"] = np.stack([np.stack([X, Y]) for X, Y in batches])
    run = rnnlm.train(
        backend="torch",
        device="cpu",
        epochs=6,
        num_hiddens=24,
        batch_size=8,
        num_steps=10,
        max_tokens=3000,
        dtype="float64",
        val_fraction=0.2,
        seed=1,
        threads=1,
        quiet=True,
    )
    for name, w in run.model.weights().items():
        arrays[f"trained/{name}"] = w
    arrays["perplexities"] = np.array([[s.perplexity, s.val_perplexity] for s in run.history])
    run.model.save(out + ".checkpoint.npz")
    with np.load(out + ".checkpoint.npz", allow_pickle=False) as ck:
        meta = json.loads(str(ck["__meta__"]))
    arrays["eval"] = np.array(
        rnnlm.load(out + ".checkpoint.npz", backend="torch", device="cpu").evaluate(max_tokens=3000)
    )
    np.savez(out, numpy_version=np.array(np.__version__), meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)


if __name__ == "__main__":
    if os.environ.get("RNNLM_PROBE_NEP50"):
        # NumPy 1.24-1.26 can warn wherever NEP 50 (NumPy 2's promotion) would change a dtype
        np._set_promotion_state("weak_and_warn")
        warnings.filterwarnings("error", message=".*result dtype changed.*")
    main(sys.argv[1])
