"""Exercise 5: "Use the model to compress text. How much space is needed? How much
computational cost? Could this approach be used to compress the book?" (the hint: the decoder
needs the model too).

Per backend: the concise model trained on the raw book's first 90% (`--text raw`), then
prefixes of the held-out last 10% coded with it (`rnnlm compress --checkpoint --mix rnn`, whole files),
beside bzip2 -9 and xz -9e on the same bytes: compressed sizes, coding speed, the model's
size (its float32 weights, and those weights xz-compressed: what a decoder must be shipped),
and the file size from which model plus code beat bzip2.
"""

from typing import Any, Dict

import bz2
import lzma
import os
import tempfile
import time

import numpy as np

from rnnlm.study import common
from rnnlm.training.figure_style import LEGEND_SIZE, plain_log_ticks, readable

FULL: Dict[str, Any] = {"num_hiddens": 256, "epochs": 40, "max_tokens": 0, "sizes": (1000, 4000, 16000)}
QUICK: Dict[str, Any] = {"num_hiddens": 32, "epochs": 1, "max_tokens": 20000, "sizes": (500, 1000)}
VAL_FRACTION = 0.1


def quick_grid():
    return (
        f"{QUICK['epochs']} epoch of {QUICK['num_hiddens']} hidden units, texts of "
        f"{' and '.join(map(str, QUICK['sizes']))} bytes"
    )


def check(backends):
    import importlib.util

    if importlib.util.find_spec("constriction") is None:
        from rnnlm.errors import UsageError
        from rnnlm.install import install_hint

        raise UsageError(f"study compress needs constriction: {install_hint('compress')}")


def points(backends, quick):
    g = QUICK if quick else FULL
    return [
        {
            "backend": b,
            "cell": "rnn",
            "num_hiddens": g["num_hiddens"],
            "epochs": g["epochs"],
            "max_tokens": g["max_tokens"],
            "sizes": list(g["sizes"]),
            "seed": 0,
        }
        for b in backends
    ]


def label(c):
    return f"{c['backend']} {c['cell']} {c['num_hiddens']}"


def _held_out_text(max_tokens):
    """The characters the model did not train on: the last 10% of the (first max_tokens of
    the) raw book, as `--val-fraction 0.1 --text raw` splits it (one token per character)."""
    from rnnlm.data.corpus import read_raw_text

    text = read_raw_text()
    text = text[:max_tokens] if max_tokens else text
    return text[len(text) - int(len(text) * VAL_FRACTION) :]


def _timed(f):
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def run(c):
    from rnnlm.api import start_training
    from rnnlm.checkpoints.file import load_checkpoint
    from rnnlm.config import DataConfig, ModelConfig, RunOptions, TrainConfig
    from rnnlm.compression import pipeline
    from rnnlm.compression.config import CompressConfig

    with tempfile.TemporaryDirectory() as tmp:
        ck = os.path.join(tmp, "model.npz")
        training = start_training(
            ModelConfig(cell=c["cell"], num_hiddens=c["num_hiddens"]),
            TrainConfig(epochs=c["epochs"], max_tokens=c["max_tokens"], seed=c["seed"]),
            DataConfig(text="raw", val_fraction=VAL_FRACTION),
            RunOptions(save=ck, quiet=True, threads=1),
            backend=c["backend"],
            device="cpu",
        )
        metrics = training.run()
        _, _, weights, _ = load_checkpoint(ck)
        checkpoint_bytes = os.path.getsize(ck)
        raw_weights = b"".join(np.asarray(weights[k], dtype="<f4").tobytes() for k in sorted(weights))
        model_xz = len(lzma.compress(raw_weights, preset=9 | lzma.PRESET_EXTREME))
        config = CompressConfig(mode="checkpoint", mix="rnn", backend=c["backend"])  # the RNN alone
        held = _held_out_text(c["max_tokens"])
        rows = []
        for n in c["sizes"] + [len(held)]:
            data = held[:n].encode("utf-8")
            coded = pipeline.compress(data, config, ck)  # the file `rnnlm compress` writes
            bz, bz_s = _timed(lambda: bz2.compress(data, 9))
            xz, xz_s = _timed(lambda: lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
            rows.append(
                {
                    "chars": n,
                    "bytes": len(data),
                    "rnnlm": len(coded.data),
                    "rnnlm_ideal_bits": coded.ideal_bits,
                    "rnnlm_seconds": coded.seconds,
                    "bzip2": len(bz),
                    "bzip2_seconds": bz_s,
                    "xz": len(xz),
                    "xz_seconds": xz_s,
                }
            )
    return {
        "sizes": rows,
        "model_weights_bytes": len(raw_weights),
        "model_xz_bytes": model_xz,
        "checkpoint_bytes": checkpoint_bytes,
        "train_seconds": metrics["train_seconds"],
        "val_perplexity": metrics["val_perplexity"],
        "perplexity": metrics["perplexity"],
    }


def breakeven(result):
    """The text size (bytes) from which the xz-compressed model plus the code is smaller than
    bzip2's output: measured if a coded size shows it, else extrapolated from the rates at
    the largest size (None when rnnlm's rate is no better than bzip2's)."""
    model = result["model_xz_bytes"]
    for row in result["sizes"]:
        if row["rnnlm"] + model < row["bzip2"]:
            return {"bytes": row["bytes"], "how": "measured"}
    last = max(result["sizes"], key=lambda r: r["bytes"])
    rate_rnn, rate_bz = last["rnnlm"] / last["bytes"], last["bzip2"] / last["bytes"]
    if rate_rnn >= rate_bz:
        return None
    return {"bytes": int(model / (rate_bz - rate_rnn)), "how": "extrapolated at the largest size's rates"}


def summarize(runs):
    lines, per = [], {}
    for r in runs:
        res, b = r["result"], r["config"]["backend"]
        last = max(res["sizes"], key=lambda x: x["bytes"])
        be = breakeven(res)
        per[b] = {"breakeven": be}
        bpc = lambda k: 8 * last[k] / last["chars"]  # noqa: E731
        speed = last["chars"] / last["rnnlm_seconds"]
        lines.append(
            f"{b}: on the {last['chars']} held-out characters rnnlm codes {bpc('rnnlm'):.3f} bits/char against "
            f"bzip2 {bpc('bzip2'):.3f} and xz {bpc('xz'):.3f}, at {speed / 1000:.1f} k chars/s against bzip2's "
            f"{last['chars'] / last['bzip2_seconds'] / 1e6:.1f} M; the decoder also needs the model: "
            f"{res['model_weights_bytes']} bytes of float32 weights, {res['model_xz_bytes']} xz-compressed. "
            + (
                f"Model plus code beat bzip2 from about {be['bytes']} bytes of text ({be['how']})."
                if be
                else "At these rates model plus code never beat bzip2."
            )
        )
    return {"per_backend": per, "answer": " ".join(lines)}


def markdown(runs, summary):
    c0 = runs[0]["config"]
    part = "" if not c0["max_tokens"] else f" (first {c0['max_tokens']} characters)"
    out = [
        "# Study `compress`: the model as a compressor, and what it costs\n",
        f"{c0['cell']} with {c0['num_hiddens']} hidden units, {c0['epochs']} epochs on the first 90% of the raw "
        f"book{part}; coded: prefixes of the "
        "held-out 10%.\n",
    ]
    rows = []
    for r in runs:
        res = r["result"]
        for s in res["sizes"]:
            rows.append(
                [
                    r["config"]["backend"],
                    s["chars"],
                    s["bytes"],
                    s["rnnlm"],
                    s["rnnlm"] + res["model_xz_bytes"],
                    s["bzip2"],
                    s["xz"],
                    f"{s['chars'] / s['rnnlm_seconds']:.0f}",
                    f"{s['chars'] / max(s['bzip2_seconds'], 1e-9):.0f}",
                    f"{s['chars'] / max(s['xz_seconds'], 1e-9):.0f}",
                ]
            )
    out.append(
        common.table(
            [
                "backend",
                "chars",
                "bytes",
                "rnnlm",
                "rnnlm + model (xz)",
                "bzip2 -9",
                "xz -9e",
                "rnnlm chars/s",
                "bzip2 chars/s",
                "xz chars/s",
            ],
            rows,
        )
    )
    out.append(f"\n**Answer (from the numbers above).** {summary['answer']}\n")
    return "\n".join(out)


def figure(runs, summary, path):
    fig, axes = common.new_figure(2)
    for r in runs:
        res, b = r["result"], r["config"]["backend"]
        n = [s["bytes"] for s in res["sizes"]]
        for key, style in (("rnnlm", "-o"), ("bzip2", "--s"), ("xz", ":^")):
            axes[0][0].plot(n, [8 * s[key] / s["bytes"] for s in res["sizes"]], style, label=f"{b} {key}")
        axes[0][0].plot(
            n,
            [8 * (s["rnnlm"] + res["model_xz_bytes"]) / s["bytes"] for s in res["sizes"]],
            "-x",
            label=f"{b} rnnlm + model",
        )
        axes[0][1].bar(
            [f"{b} rnnlm", f"{b} bzip2", f"{b} xz"],
            [
                sum(s["chars"] for s in res["sizes"]) / sum(s[k] for s in res["sizes"])
                for k in ("rnnlm_seconds", "bzip2_seconds", "xz_seconds")
            ],
        )
    axes[0][0].set(xlabel="text size (bytes)", ylabel="bits per character", title="size")
    readable(axes[0][0], log_x=True, log_y=True)
    axes[0][1].set(yscale="log", ylabel="characters per second", title="coding speed")
    plain_log_ticks(axes[0][1].yaxis)
    axes[0][1].tick_params(axis="x", labelsize=LEGEND_SIZE)
    common.save_figure(fig, path)
