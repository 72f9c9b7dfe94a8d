"""Exercise 2: "Can you make the model overfit?"

The concise model on the whole book with the last 10% held out: the number of hidden units
(at the book's clipping), then the clipping threshold (at 256 hidden units), every epoch's
training and validation perplexity. Overfitting is read from the numbers: the epoch where
validation perplexity is lowest, whether it then rises while training perplexity still
falls, and by how much. A run that diverges (rnnlm.training.divergence) is recorded as such and the
study goes on.
"""

from typing import Any, Dict

from rnnlm.study import common
from rnnlm.training.figure_style import readable

FULL: Dict[str, Any] = {
    "hiddens": (32, 128, 512, 1024),
    "clips": (0.1, 1.0, 10.0, None),
    "epochs": 20,
    "max_tokens": 0,
    "val_fraction": 0.1,
    "clip_hiddens": 256,
}
QUICK: Dict[str, Any] = {
    "hiddens": (16, 64),
    "clips": (1.0, None),
    "epochs": 3,
    "max_tokens": 8000,
    "val_fraction": 0.2,
    "clip_hiddens": 32,
}


def quick_grid():
    units = " and ".join(str(h) for h in QUICK["hiddens"])
    return f"{QUICK['epochs']} epochs of {units} hidden units on the first {QUICK['max_tokens']} characters"


def check(backends):
    pass


def points(backends, quick):
    g = QUICK if quick else FULL
    base = {
        "epochs": g["epochs"],
        "max_tokens": g["max_tokens"],
        "val_fraction": g["val_fraction"],
        "lr": 1.0,
        "batch_size": 32,
        "num_steps": 35,
        "seed": 0,
        "dtype": "float32",
    }
    out = []
    for b in backends:
        out += [{"backend": b, "sweep": "hidden units", "num_hiddens": h, "clip": 1.0, **base} for h in g["hiddens"]]
        out += [
            {"backend": b, "sweep": "clipping", "num_hiddens": g["clip_hiddens"], "clip": c, **base} for c in g["clips"]
        ]
    return out


def label(c):
    return f"{c['backend']} {c['num_hiddens']} hidden, clip {c['clip'] or 'none'}"


def run(c):
    train = {k: c[k] for k in ("epochs", "max_tokens", "lr", "batch_size", "num_steps", "seed", "dtype")}
    train["clip"] = c["clip"] if c["clip"] is not None else common.NO_CLIP
    return common.lm_run(c["backend"], {"num_hiddens": c["num_hiddens"]}, train, {"val_fraction": c["val_fraction"]})


def shape_of(result, rise=0.01):
    """Best validation epoch and value, the last epoch's, and whether validation rose by
    more than `rise` (relative) after its best while training perplexity kept falling."""
    h = [e for e in result["history"] if e["val_perplexity"] is not None]
    if not h:
        return None
    best = min(h, key=lambda e: e["val_perplexity"])
    last = h[-1]
    overfits = last["val_perplexity"] > best["val_perplexity"] * (1 + rise) and last["perplexity"] < best["perplexity"]
    return {
        "best_epoch": best["epoch"],
        "best_val": best["val_perplexity"],
        "train_at_best": best["perplexity"],
        "last_train": last["perplexity"],
        "last_val": last["val_perplexity"],
        "overfits": overfits,
        "gap": last["val_perplexity"] - last["perplexity"],
    }


def summarize(runs):
    rows, lines = [], []
    for r in runs:
        s = shape_of(r["result"])
        rows.append({"label": label(r["config"]), "shape": s, "diverged": r["result"]["diverged"]})
    # a diverged run's validation perplexity rises because the model has blown up, not because
    # it has learned its training text too well: it is never counted as overfitting
    over = [x for x in rows if x["shape"] and x["shape"]["overfits"] and not x["diverged"]]
    div = [x for x in rows if x["diverged"]]
    if over:
        worst = max(over, key=lambda x: x["shape"]["last_val"] / x["shape"]["best_val"])
        s = worst["shape"]
        lines.append(
            f"{len(over)} of {len(rows) - len(div)} runs that did not diverge overfit (validation "
            f"perplexity rises by more than 1% after its best epoch while training perplexity still "
            f"falls); the clearest, {worst['label']}, is best at epoch {s['best_epoch']} (validation "
            f"{s['best_val']:.4g}) and ends at validation {s['last_val']:.4g} with training "
            f"{s['last_train']:.4g}."
        )
    else:
        lines.append(
            f"In this grid no run that did not diverge overfits: in all {len(rows) - len(div)} of them "
            "validation perplexity is lowest at or near the last epoch (more epochs or units would be "
            "needed)."
        )
    fine = [x for x in rows if x["shape"] and not x["diverged"]]
    if fine:
        widest = max(fine, key=lambda x: x["shape"]["gap"])
        lines.append(
            f"The widest gap between validation and training perplexity at the end: {widest['label']}, "
            f"{widest['shape']['last_val']:.4g} against {widest['shape']['last_train']:.4g}."
        )
    if div:
        lines.append(
            "Diverged: "
            + "; ".join(
                f"{x['label']} at epoch {x['diverged']['epoch']} (perplexity "
                f"{common.fmt(x['diverged']['perplexity'], 3)})"
                for x in div
            )
            + "."
        )
    else:
        lines.append("No run diverged.")
    return {"runs": rows, "answer": " ".join(lines)}


def markdown(runs, summary):
    c0 = runs[0]["config"]
    corpus = "the whole book" if not c0["max_tokens"] else f"the first {c0['max_tokens']} characters"
    out = [
        "# Study `overfit`: hidden units and clipping against validation perplexity\n",
        f"{corpus}, the last {c0['val_fraction']:.0%} held out; {c0['epochs']} epochs, lr {c0['lr']}, "
        f"batch {c0['batch_size']} x {c0['num_steps']}, {c0['dtype']}.\n",
    ]
    rows = []
    for r, s in zip(runs, summary["runs"]):
        sh, res = s["shape"] or {}, r["result"]
        last = res["history"][-1]
        rows.append(
            [
                r["config"]["backend"],
                r["config"]["sweep"],
                r["config"]["num_hiddens"],
                r["config"]["clip"] or "none",
                common.fmt(last["perplexity"]),
                common.fmt(last["val_perplexity"]),
                sh.get("best_epoch", "-"),
                common.fmt(sh.get("best_val")),
                "no (diverged)" if res["diverged"] else "yes" if sh.get("overfits") else "no",
                common.fmt(last.get("grad_norm"), 3),
                common.fmt(last.get("clipped_fraction"), 2),
                "-" if not res["diverged"] else f"epoch {res['diverged']['epoch']}",
            ]
        )
    out.append(
        common.table(
            [
                "backend",
                "sweep",
                "hidden",
                "clip",
                "train ppl (last)",
                "val ppl (last)",
                "best val epoch",
                "best val ppl",
                "overfits",
                "grad norm (last)",
                "clipped (last)",
                "diverged",
            ],
            rows,
        )
    )
    out.append(f"\n**Answer (from the numbers above).** {summary['answer']}\n")
    return "\n".join(out)


def figure(runs, summary, path):
    fig, axes = common.new_figure(2)
    for r in runs:
        ax = axes[0][0 if r["config"]["sweep"] == "hidden units" else 1]
        h = r["result"]["history"]
        (line,) = ax.plot([e["epoch"] for e in h], [e["perplexity"] for e in h], "-", label=label(r["config"]))
        ax.plot([e["epoch"] for e in h], [e["val_perplexity"] for e in h], "--", color=line.get_color())
    for ax, title in zip(axes[0], ("hidden units (clip 1)", "clipping")):
        ax.set(xlabel="epoch (solid: training, dashed: validation)", ylabel="perplexity", title=title)
        readable(ax, log_y=True, epochs=True)
    common.save_figure(fig, path)
