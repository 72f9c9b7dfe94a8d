"""Exercise 1: "Compare the implementation with the previous section (RNN from scratch)."

The book's from-scratch RNN (normal(0, 0.01) weights, a Python loop over time steps,
clipping and SGD by hand) and the concise model (the framework's RNN layer, PyTorch's
default initialization) trained on identical batches: tokens/s and perplexity. Then one
factor at a time is changed on the scratch model (its initialization, ReLU for tanh as
Gluon's rnn.RNN defaults to, a fresh state every minibatch, no clipping), and on the concise
one (ReLU), to see which factor moves the perplexity by how much.
"""

from typing import Any, Dict

import math
import time

import numpy as np

from rnnlm.study import common
from rnnlm.training.figure_style import LEGEND_SIZE, readable

# name -> (model, init, activation, state, clip)
VARIANTS = {
    "scratch": ("scratch", "normal", "tanh", "carry", 1.0),
    "scratch, uniform init": ("scratch", "uniform", "tanh", "carry", 1.0),
    "scratch, relu": ("scratch", "normal", "relu", "carry", 1.0),
    "scratch, state reset": ("scratch", "normal", "tanh", "reset", 1.0),
    "scratch, no clipping": ("scratch", "normal", "tanh", "carry", None),
    "concise": ("concise", "uniform", "tanh", "carry", 1.0),
    "concise, relu": ("concise", "uniform", "relu", "carry", 1.0),
}
FACTORS = ("scratch, uniform init", "scratch, relu", "scratch, state reset", "scratch, no clipping")
FULL: Dict[str, Any] = {
    "num_hiddens": 256,
    "epochs": 100,
    "max_tokens": 10000,
}  # the book's model and data; 100 of its 500
# epochs, as the Python loop of the scratch model on MXNet runs ~8k tokens/s a core
QUICK: Dict[str, Any] = {"num_hiddens": 32, "epochs": 3, "max_tokens": 4000}


def quick_grid():
    return (
        f"{QUICK['epochs']} epochs of {QUICK['num_hiddens']} hidden units on the first {QUICK['max_tokens']} characters"
    )


def check(backends):
    pass


def points(backends, quick):
    size = QUICK if quick else FULL
    return [
        {
            "backend": b,
            "variant": v,
            **size,
            "batch_size": 32,
            "num_steps": 35,
            "lr": 1.0,
            "seed": 0,
            "dtype": "float32",
        }
        for b in backends
        for v in VARIANTS
    ]


def label(c):
    return f"{c['backend']} {c['variant']}"


def run(c, on_epoch=None):
    """One variant trained for c['epochs']; the per-epoch history."""
    from rnnlm.data.batches import make_batches
    from rnnlm.config import DataConfig, TrainConfig
    from rnnlm.data.dataset import load_training_data

    corpus, _, vocab = load_training_data(
        DataConfig(), TrainConfig(max_tokens=c["max_tokens"], batch_size=c["batch_size"], num_steps=c["num_steps"])
    )
    kind, init, activation, state_mode, clip = VARIANTS[c["variant"]]
    trainer = (ScratchTrainer if kind == "scratch" else ConciseTrainer)(c, len(vocab), init, activation, clip)
    rng = np.random.default_rng(c["seed"])
    history = []
    for epoch in range(1, c["epochs"] + 1):
        start, state, total, tokens, norms, clipped = time.perf_counter(), None, 0.0, 0, [], 0
        for X, Y in make_batches(corpus, c["batch_size"], c["num_steps"], "sequential", rng):
            state = trainer.begin(X.shape[0]) if state is None or state_mode == "reset" else trainer.detach(state)
            state, loss_sum, norm = trainer.step(state, X, Y)
            total, tokens = total + loss_sum, tokens + Y.size
            norms.append(norm)
        total = trainer.to_float(total)
        seconds = time.perf_counter() - start
        norms = [n if isinstance(n, float) else trainer.to_float(n) for n in norms]
        clipped = sum(clip is not None and n > clip for n in norms)
        history.append(
            {
                "epoch": epoch,
                "perplexity": _ppl(total / tokens),
                "tokens_per_sec": tokens / seconds,
                "grad_norm": float(np.mean(norms)),
                "clipped_fraction": clipped / len(norms),
            }
        )
        if on_epoch is not None:
            on_epoch(trainer)
    found = common.diverged_at([h["perplexity"] for h in history], len(vocab))
    return {
        "history": history,
        "vocab_size": len(vocab),
        "diverged": None if found is None else {"epoch": found[0], "perplexity": common._num(found[1])},
        "perplexity": history[-1]["perplexity"],
        "tokens_per_sec": float(np.median([h["tokens_per_sec"] for h in history])),
    }


def _ppl(mean_loss):
    return math.exp(mean_loss) if mean_loss < 700 else math.inf


class ScratchTrainer:
    def __init__(self, c, vocab_size, init, activation, clip):
        from rnnlm.study.models import load_study_backend
        from rnnlm.study.weights import scratch_weights

        self.b = b = load_study_backend(c["backend"])
        b.set_num_threads(1)
        self.model = b.ScratchLM(
            scratch_weights(vocab_size, c["num_hiddens"], vocab_size, c["seed"], c["dtype"], init),
            activation,
            c["dtype"],
        )
        self.lr, self.clip, self.to_float = c["lr"], clip, b.to_float

    def begin(self, n):
        return self.b.scratch_begin_state(self.model, n)

    def detach(self, state):
        return self.b.scratch_detach(state)

    def step(self, state, X, Y):
        return self.b.scratch_train_step(self.model, state, X, Y, self.lr, self.clip)

    def weights(self):
        return self.b.scratch_get_weights(self.model)


class ConciseTrainer:
    """rnnlm's own model and train_step (the concise implementation)."""

    def __init__(self, c, vocab_size, init, activation, clip):
        from rnnlm.backend import build_model, load_backend
        from rnnlm.config import ModelConfig
        from rnnlm.model.weights import init_weights

        self.b = b = load_backend(c["backend"])
        mcfg = ModelConfig(vocab_size=vocab_size, num_hiddens=c["num_hiddens"], activation=activation)
        self.model = build_model(
            b, mcfg, b.resolve_device("cpu"), c["dtype"], init_weights(mcfg, c["seed"], c["dtype"])
        )
        b.set_num_threads(1)
        self.optimizer = b.make_optimizer(self.model, c["lr"])
        self.clip, self.to_float = (clip if clip is not None else common.NO_CLIP), b.to_float

    def begin(self, n):
        return self.b.begin_state(self.model, n)

    def detach(self, state):
        return self.b.detach_state(state)

    def step(self, state, X, Y):
        return self.b.train_step(self.model, self.optimizer, state, X, Y, self.clip)

    def weights(self):
        return self.b.get_weights(self.model)


# ---- the report ------------------------------------------------------------------------------


def summarize(runs):
    by = {(r["config"]["backend"], r["config"]["variant"]): r["result"] for r in runs}
    backends = sorted({b for b, _ in by}, key=[r["config"]["backend"] for r in runs].index)
    lines, per_backend = [], {}
    for b in backends:
        s, k = by[(b, "scratch")]["perplexity"], by[(b, "concise")]["perplexity"]
        gap = s - k
        moves = {f: s - by[(b, f)]["perplexity"] for f in FACTORS}
        best = max(moves, key=lambda f: moves[f] if math.isfinite(moves[f]) else -math.inf)
        speed = by[(b, "concise")]["tokens_per_sec"] / by[(b, "scratch")]["tokens_per_sec"]
        relu = by[(b, "concise, relu")]["perplexity"]
        per_backend[b] = {
            "scratch": s,
            "concise": k,
            "gap": gap,
            "moves": moves,
            "largest": best,
            "speedup": speed,
            "concise_relu": relu,
        }
        closed = f"{moves[best] / gap:.0%} of the gap" if gap > 0 else f"{moves[best]:+.3g}"
        lines.append(
            f"{b}: the concise model runs {speed:.1f}x the scratch model's tokens/s and ends at "
            f"perplexity {k:.3g} against {s:.3g}; of the single factors, '{best.split(', ')[1]}' "
            f"moves the scratch model's perplexity most ({s:.3g} -> {by[(b, best)]['perplexity']:.3g}, "
            f"{closed}); the concise model with ReLU instead of tanh ends at {relu:.3g}."
        )
    return {"per_backend": per_backend, "answer": " ".join(lines)}


def markdown(runs, summary):
    c0 = runs[0]["config"]
    out = [
        "# Study `scratch`: the from-scratch RNN against the concise one\n",
        f"{c0['num_hiddens']} hidden units, {c0['epochs']} epochs, the first {c0['max_tokens']} characters, "
        f"batch {c0['batch_size']} x {c0['num_steps']}, lr {c0['lr']}, seed {c0['seed']}, {c0['dtype']}; "
        "identical batches for every run.\n",
    ]
    rows = []
    for r in runs:
        c, res = r["config"], r["result"]
        div = "-" if not res["diverged"] else f"epoch {res['diverged']['epoch']}"
        rows.append(
            [
                c["backend"],
                c["variant"],
                common.fmt(res["perplexity"]),
                f"{res['tokens_per_sec']:.0f}",
                common.fmt(res["history"][-1]["grad_norm"], 3),
                div,
            ]
        )
    out.append(
        common.table(
            ["backend", "variant", "final perplexity", "tokens/s (median epoch)", "grad norm (last epoch)", "diverged"],
            rows,
        )
    )
    out.append(f"\n**Answer (from the numbers above).** {summary['answer']}\n")
    return "\n".join(out)


def figure(runs, summary, path):
    fig, axes = common.new_figure(2)
    for r in runs:
        c, h = r["config"], r["result"]["history"]
        style = "-" if VARIANTS[c["variant"]][0] == "concise" else "--"
        axes[0][0].plot(
            [e["epoch"] for e in h], [e["perplexity"] for e in h], style, label=f"{c['backend']} {c['variant']}"
        )
    axes[0][0].set(xlabel="epoch (solid: concise, dashed: scratch)", ylabel="perplexity", title="perplexity per epoch")
    readable(axes[0][0], log_y=True, epochs=True)
    names = [label(r["config"]) for r in runs]
    axes[0][1].barh(names, [r["result"]["tokens_per_sec"] for r in runs])
    axes[0][1].invert_yaxis()  # in the legend's order
    axes[0][1].set(xlabel="tokens/s (median epoch)", title="speed")
    axes[0][1].tick_params(axis="y", labelsize=LEGEND_SIZE)
    common.save_figure(fig, path)
