"""Exercise 4: "What happens if you increase the number of hidden layers of the RNN model?
Can you make the model work?"

rnn, gru and lstm with 1, 2, 4 and 8 layers, at the book's settings (lr 1, clip 1) and at
other learning rates, on identical batches. A model "trains" when its final training
perplexity is at least 10% below the unigram perplexity of the text (what knowing only the
characters' frequencies gives): it has learned something from the order of characters.
"""

from typing import Any, Dict

from rnnlm.config import CELLS
from rnnlm.study import common
from rnnlm.training.figure_style import readable, reference_line

SETTINGS = {"book (lr 1, clip 1)": (1.0, 1.0), "lr 4, clip 1": (4.0, 1.0), "lr 0.25, clip 1": (0.25, 1.0)}
# 128 units, 50 epochs, the book's setting and lr 4: 24 runs up to 8 LSTM layers deep fit in under an
# hour on 2 cores (lr 0.25 is there for --quick and the API, not the full grid)
FULL: Dict[str, Any] = {
    "layers": (1, 2, 4, 8),
    "cells": CELLS,
    "settings": ("book (lr 1, clip 1)", "lr 4, clip 1"),
    "num_hiddens": 128,
    "epochs": 50,
    "max_tokens": 10000,
}
QUICK: Dict[str, Any] = {
    "layers": (1, 2),
    "cells": ("rnn", "gru"),
    "settings": ("book (lr 1, clip 1)",),
    "num_hiddens": 32,
    "epochs": 3,
    "max_tokens": 4000,
}


def quick_grid():
    return (
        f"{QUICK['epochs']} epochs of {QUICK['num_hiddens']} hidden units, {' and '.join(QUICK['cells'])} with "
        f"{' and '.join(map(str, QUICK['layers']))} layers, on the first {QUICK['max_tokens']} characters"
    )


def check(backends):
    pass


def points(backends, quick):
    g = QUICK if quick else FULL
    return [
        {
            "backend": b,
            "cell": cell,
            "num_layers": n,
            "setting": s,
            "lr": SETTINGS[s][0],
            "clip": SETTINGS[s][1],
            "num_hiddens": g["num_hiddens"],
            "epochs": g["epochs"],
            "max_tokens": g["max_tokens"],
            "batch_size": 32,
            "num_steps": 35,
            "seed": 0,
            "dtype": "float32",
        }
        for b in backends
        for s in g["settings"]
        for cell in g["cells"]
        for n in g["layers"]
    ]


def label(c):
    return f"{c['backend']} {c['cell']} x{c['num_layers']}, {c['setting']}"


def run(c):
    train = {k: c[k] for k in ("epochs", "max_tokens", "lr", "clip", "batch_size", "num_steps", "seed", "dtype")}
    return common.lm_run(
        c["backend"], {"cell": c["cell"], "num_layers": c["num_layers"], "num_hiddens": c["num_hiddens"]}, train, {}
    )


def _final(result):
    p = result["history"][-1]["perplexity"] if result["history"] else None
    return None if result["stopped"] else p


MARGIN = 0.9  # "trains": at least 10% below the unigram perplexity, not merely at it


def trains(result):
    p = _final(result)
    return p is not None and not isinstance(p, str) and p < MARGIN * result["unigram_perplexity"]


def summarize(runs):
    backend = runs[0]["config"]["backend"]
    best: Dict[Any, Any] = {}
    lines = []
    for r in runs:
        c = r["config"]
        if c["backend"] != backend:
            continue
        key = f"{c['cell']} x{c['num_layers']}"
        p = _final(r["result"])
        if p is not None and not isinstance(p, str) and (key not in best or p < best[key]["perplexity"]):
            best[key] = {
                "perplexity": p,
                "setting": c["setting"],
                "trains": trains(r["result"]),
                "tokens_per_sec": r["result"]["tokens_per_sec"],
            }
    unigram = runs[0]["result"]["unigram_perplexity"]
    book = [r for r in runs if r["config"]["backend"] == backend and r["config"]["setting"].startswith("book")]
    ok = [label(r["config"]).split(", ")[0].split(" ", 1)[1] for r in book if trains(r["result"])]
    not_ok = [label(r["config"]).split(", ")[0].split(" ", 1)[1] for r in book if not trains(r["result"])]
    lines.append(
        f"On {backend}, at the book's settings these train (final perplexity at least 10% below the "
        f"unigram {unigram:.3g}, what the characters' frequencies alone give): {', '.join(ok) or 'none'}; "
        f"these do not: {', '.join(not_ok) or 'none'}."
    )
    rescued = [k for k, v in best.items() if v["trains"] and k in not_ok]
    if rescued:
        lines.append(
            "Another setting makes "
            + ", ".join(f"{k} train ({best[k]['setting']}: {best[k]['perplexity']:.3g})" for k in rescued)
            + "."
        )
    at_book = {label(r["config"]).split(", ")[0].split(" ", 1)[1]: _final(r["result"]) for r in book}
    better = [
        f"{k} {at_book[k]:.3g} -> {v['perplexity']:.3g}"
        for k, v in best.items()
        if not v["setting"].startswith("book") and isinstance(at_book.get(k), float) and v["trains"]
    ]
    if better:
        lines.append("A setting other than the book's does better for " + ", ".join(better) + ".")
    blown: Dict[str, list] = {}
    for r in runs:
        if r["config"]["backend"] == backend and r["result"].get("diverged"):
            blown.setdefault(r["config"]["setting"], []).append(f"{r['config']['cell']} x{r['config']['num_layers']}")
    for setting, names in blown.items():
        lines.append(f"Diverged at {setting}: {', '.join(names)}.")
    deepest = [r for r in book if r["config"]["num_layers"] == max(x["config"]["num_layers"] for x in book)]
    shallow = [r for r in book if r["config"]["num_layers"] == 1]
    if deepest and shallow:
        slow = shallow[0]["result"]["tokens_per_sec"] / max(deepest[0]["result"]["tokens_per_sec"], 1e-9)
        lines.append(
            f"Each layer costs time: {deepest[0]['config']['cell']} x{deepest[0]['config']['num_layers']} runs "
            f"at 1/{slow:.1f} of the 1-layer speed."
        )
    return {"best": best, "unigram_perplexity": unigram, "answer": " ".join(lines)}


def markdown(runs, summary):
    c0 = runs[0]["config"]
    out = [
        "# Study `depth`: 1 to 8 layers of rnn, gru and lstm\n",
        f"{c0['num_hiddens']} hidden units, {c0['epochs']} epochs, the first {c0['max_tokens']} characters, batch "
        f"{c0['batch_size']} x {c0['num_steps']}, {c0['dtype']}; unigram perplexity of the text "
        f"{summary['unigram_perplexity']:.3g}.\n",
    ]
    rows = []
    for r in runs:
        c, res = r["config"], r["result"]
        last = res["history"][-1] if res["history"] else {}
        status = (
            "stopped (non-finite) at epoch %d" % res["stopped"]["epoch"]
            if res["stopped"]
            else ("diverged at epoch %d" % res["diverged"]["epoch"] if res["diverged"] else "-")
        )
        rows.append(
            [
                c["backend"],
                c["cell"],
                c["num_layers"],
                c["setting"],
                common.fmt(last.get("perplexity")),
                "yes" if trains(res) else "no",
                f"{res['tokens_per_sec']:.0f}" if res["tokens_per_sec"] else "-",
                common.fmt(last.get("grad_norm"), 3),
                status,
            ]
        )
    out.append(
        common.table(
            [
                "backend",
                "cell",
                "layers",
                "setting",
                "final perplexity",
                "trains",
                "tokens/s",
                "grad norm (last)",
                "diverged",
            ],
            rows,
        )
    )
    out.append(f"\n**Answer (from the numbers above).** {summary['answer']}\n")
    return "\n".join(out)


def figure(runs, summary, path):
    settings = list(dict.fromkeys(r["config"]["setting"] for r in runs))
    fig, axes = common.new_figure(len(settings))
    backend = runs[0]["config"]["backend"]
    for i, s in enumerate(settings):
        ax = axes[0][i]
        for r in runs:
            c, h = r["config"], r["result"]["history"]
            if c["setting"] == s and c["backend"] == backend and h:
                ax.plot(
                    [e["epoch"] for e in h],
                    [e["perplexity"] for e in h],
                    {"rnn": "-", "gru": "--", "lstm": ":"}[c["cell"]],
                    label=f"{c['cell']} x{c['num_layers']}",
                )
        reference_line(ax, summary["unigram_perplexity"], "unigram (the characters' frequencies alone)")
        ax.set(xlabel="epoch", ylabel="training perplexity", title=f"{backend}, {s}")
        readable(ax, log_y=True, epochs=True)
    common.save_figure(fig, path)
