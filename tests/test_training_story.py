"""What every run records for the studies (issue 21): the gradient norm before clipping and
the fraction of minibatches clipped per epoch, the data settings, the best validation epoch
and its checkpoint (--save-best), divergence by one stated rule, and runs overlaid by
`rnnlm plot`, labelled by what differs."""

import json
import math

import numpy as np
import pytest

from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.cli.main import main
from rnnlm.training.divergence import DIVERGE_FACTOR, diverged_at
from rnnlm.training.plot import labels_by_difference
from tests.support.backends import load_or_skip
from tests.support.extras import needs_plot

SMALL = [
    "--epochs",
    "3",
    "--num-hiddens",
    "8",
    "--max-tokens",
    "4000",
    "--val-fraction",
    "0.3",
    "--quiet",
    "--threads",
    "1",
]


def test_divergence_rule():
    assert diverged_at([20.0, 15.0, 12.0], 28) is None
    assert diverged_at([20.0, 28 * DIVERGE_FACTOR + 1, 3.0], 28) == (2, 28 * DIVERGE_FACTOR + 1)
    assert diverged_at([20.0, 4.1e13], 28) == (2, 4.1e13)  # finite, but worse than guessing
    assert diverged_at([20.0, math.inf], 28)[0] == 2


@pytest.mark.parametrize("clip, fraction", [("1e-6", 1.0), ("1e6", 0.0)])
def test_metrics_record_norms_clipping_data_and_best_epoch(backend, tmp_path, capsys, clip, fraction):
    out, best = tmp_path / "m.json", tmp_path / "best.npz"
    assert (
        main(
            [
                "train",
                "--backend",
                backend.NAME,
                *SMALL,
                "--clip",
                clip,
                "--metrics-json",
                str(out),
                "--save-best",
                str(best),
            ]
        )
        == 0
    )
    m = json.loads(out.read_text())
    assert (m["val_fraction"], m["corpus"], m["text"], m["diverged"]) == (0.3, None, "book", None)
    for h in m["history"]:
        assert h["grad_norm"] > 0 and h["clipped_fraction"] == fraction
    vals = [h["val_perplexity"] for h in m["history"]]
    assert m["best_epoch"] == 1 + int(np.argmin(vals)) and m["best_val_perplexity"] == min(vals)
    printed = capsys.readouterr().out
    assert f"(best {min(vals):.2f} at epoch {m['best_epoch']})" in printed
    _, _, _, meta = load_checkpoint(str(best))
    assert meta["epoch"] == m["best_epoch"]  # the checkpoint of the best validation epoch


def test_save_best_needs_a_validation_split(tmp_path, capsys):
    assert main(["train", "--epochs", "1", "--save-best", str(tmp_path / "b.npz")]) == 2
    assert "--val-fraction" in capsys.readouterr().err


@needs_plot
def test_plot_overlays_runs_labelled_by_what_differs(tmp_path, capsys):
    load_or_skip("torch")
    paths = []
    for lr in ("1", "0.5"):
        paths.append(str(tmp_path / f"lr{lr}.json"))
        assert main(["train", "--backend", "torch", *SMALL, "--lr", lr, "--metrics-json", paths[-1]]) == 0
    png = tmp_path / "cmp.png"
    assert main(["plot", *paths, "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    docs = [json.loads(open(p).read()) for p in paths]
    assert labels_by_difference(docs, paths) == ["lr 1.0", "lr 0.5"]
    assert labels_by_difference([docs[0], docs[0]], ["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'{"history": [{"epoch": "x"}]}', b"\xff\xfe"])
def test_plot_refuses_what_is_not_a_metrics_file(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["plot", str(bad), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()
