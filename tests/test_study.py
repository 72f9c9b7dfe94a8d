"""`rnnlm study`: each study's quick grid writes its three files, a rerun reuses every stored
run, a study killed halfway completes with the numbers of an uninterrupted one (and --jobs 2
gives those of --jobs 1), and the studies' own models give the same numbers on every training
backend in float64 (each against the reference backend)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from rnnlm.cli.main import main
from rnnlm.study import autoregressive, scratch
from rnnlm.study.grid import STUDIES
from tests.support.backends import load_or_skip
from tests.support.waiting import wait_until
from tests.support.extras import needs_plot

TIMINGS = ("tokens_per_sec", "seconds", "wall_seconds", "train_seconds", "rnnlm_seconds", "bzip2_seconds", "xz_seconds")


def _numbers(doc):
    """A study JSON's runs without what depends on the clock."""

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in TIMINGS}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(doc["runs"])


def _read(out, name):
    with open(os.path.join(out, f"{name}.json")) as f:
        return json.load(f)


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDIES)
def test_quick_study_writes_json_md_png_and_a_rerun_reuses_every_run(name, tmp_path, capsys):
    load_or_skip("torch")
    out = str(tmp_path / "out")
    assert main(["study", name, "--quick", "--backend", "torch", "--out", out, "--quiet", "--jobs", "2"]) == 0
    for ext in ("json", "md", "png"):
        assert os.path.getsize(os.path.join(out, f"{name}.{ext}")) > 0
    with open(os.path.join(out, f"{name}.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    first = _read(out, name)
    assert first["runs"] and all(r["result"] for r in first["runs"])
    assert "**Answer" in open(os.path.join(out, f"{name}.md")).read()
    capsys.readouterr()
    assert main(["study", name, "--quick", "--backend", "torch", "--out", out, "--quiet"]) == 0
    n = len(first["runs"])
    printed = capsys.readouterr().out
    assert (
        f"{n} runs ({n} reused)" in printed
    )  # no run again (not a wall clock: load slows a rerun) and "\nA smoke grid (--quick: " in printed
    assert _read(out, name)["runs"] == first["runs"]


def _study_cmd(out, jobs):
    return [
        sys.executable,
        "-m",
        "rnnlm",
        "study",
        "autoregressive",
        "--quick",
        "--backends",
        "torch,mxnet",
        "--out",
        out,
        "--jobs",
        str(jobs),
        "--quiet",
    ]


@pytest.mark.slow
def test_killed_halfway_and_rerun_completes_with_the_same_numbers_as_jobs_2(tmp_path):
    load_or_skip("torch"), load_or_skip("mxnet")
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    subprocess.run(_study_cmd(whole, 2), check=True, capture_output=True, timeout=600)
    proc = subprocess.Popen(
        _study_cmd(killed, 1), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )  # --quiet: its stderr is an error's alone
    runs = os.path.join(killed, "autoregressive.runs")

    def stored():  # finished runs, not the temporary file one is written through
        return (
            len([f for f in os.listdir(runs) if f.endswith(".json") and not f.startswith(".")])
            if os.path.isdir(runs)
            else 0
        )

    wait_until(lambda: stored() > 0, proc, "its first stored run", poll=0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the study and its worker, mid-grid
    proc.wait()
    stored = stored()
    assert 1 <= stored < 4 and not os.path.exists(os.path.join(killed, "autoregressive.json"))
    done = subprocess.run(_study_cmd(killed, 1), check=True, capture_output=True, text=True, timeout=600)
    assert f"4 runs ({stored} reused)" in done.stdout
    assert _numbers(_read(killed, "autoregressive")) == _numbers(_read(whole, "autoregressive"))


def test_a_damaged_stored_run_is_run_again(tmp_path, monkeypatch):
    from rnnlm.study import schema
    from rnnlm.study.store import RunStore

    monkeypatch.setitem(schema.RESULTS, "x", lambda result, where: None)  # a study whose runs are any value
    store = RunStore(str(tmp_path), "x")
    config = {"backend": "torch", "a": 1}
    store.save(config, {"value": 1.5})
    assert store.load(config) == {"value": 1.5}
    assert store.load({"backend": "torch", "a": 2}) is None
    with open(store.path(config), "r+b") as f:
        f.truncate(10)
    assert store.load(config) is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["study", "nope"], "invalid choice: 'nope'"),
        (["study", "scratch", "--jobs", "0"], "--jobs"),
        (["study", "scratch", "--backends", "torch,nope"], "unknown backend 'nope'"),
        (["study", "scratch", "--backends", "torch,torch"], "names a backend twice"),
        (["study", "scratch", "--backends", "onnxruntime"], "predict and eval only"),
        (["study", "scratch", "--out", "/nonexistent/dir/out"], "does not exist"),
    ],
)
def test_bad_settings_are_one_error_line_before_any_run(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == []  # nothing was run or written


@needs_plot
def test_python_api_returns_the_runs(tmp_path):
    load_or_skip("torch")
    import rnnlm

    result = rnnlm.study("autoregressive", backends="torch", quick=True, out=str(tmp_path))
    assert [r["config"]["model"] for r in result.runs] == ["mlp", "rnn"]
    assert result.runs[0]["result"]["onestep_test_mse"] > 0 and "one step ahead" in result.answer
    # a smoke grid says so first, in the answer, the Markdown and the JSON
    assert result.answer.startswith("A smoke grid (--quick: seed 0 alone") and "docs/exercises.md" in result.answer
    md = open(result.files["md"]).read().splitlines()
    assert md[0].startswith("# Study") and md[2].startswith("> **A smoke grid") and "exercise 3" in md[2]
    assert _read(str(tmp_path), "autoregressive")["note"].startswith("A smoke grid")
    with pytest.raises(rnnlm.UsageError, match="unknown study"):
        rnnlm.study("nope", out=str(tmp_path))


@pytest.mark.parametrize("name", STUDIES)
def test_a_quick_report_names_its_grid_and_the_full_answer(name):
    from pathlib import Path
    from rnnlm.study.grid import EXERCISES, smoke_note, study_module

    number = STUDIES.index(name) + 1
    note = smoke_note(name, study_module(name))
    assert note.startswith(f"A smoke grid (--quick: {study_module(name).quick_grid()})")
    assert f"{EXERCISES}, exercise {number} (`rnnlm study {name}` without --quick)" in note
    exercises = (Path(__file__).resolve().parent.parent / EXERCISES).read_text()
    assert f"## Exercise {number}: `{name}`" in exercises  # the place the note points to


# ---- float64 parity of the studies' own models ---------------------------------------------------


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("variant", list(scratch.VARIANTS))
def test_scratch_float64_parity(backend_pair, variant):
    ref, other = (b.NAME for b in backend_pair)
    config = {**scratch.points([ref], True)[0], "variant": variant, "dtype": "float64", "epochs": 2}
    t = scratch.run(config)
    m = scratch.run({**config, "backend": other})
    # the concise model's gradient runs through different kernels (torch's fused recurrence):
    # its norm, a sum of squares of every gradient, agrees to 1e-8 (measured 2.5e-9 with ReLU)
    norm_tol = 1e-9 if scratch.VARIANTS[variant][0] == "scratch" else 1e-8
    for a, b in zip(t["history"], m["history"]):
        assert abs(a["perplexity"] - b["perplexity"]) <= 1e-9 * b["perplexity"]
        assert abs(a["grad_norm"] - b["grad_norm"]) <= norm_tol * b["grad_norm"]
        assert a["clipped_fraction"] == b["clipped_fraction"]


def test_scratch_weights_after_training_agree_in_float64(backend_pair):
    ref, other = (b.NAME for b in backend_pair)
    config = {**scratch.points([ref], True)[0], "dtype": "float64", "epochs": 2}
    weights = {}
    for name in (ref, other):
        trainers = []
        scratch.run({**config, "backend": name}, on_epoch=trainers.append)
        weights[name] = trainers[-1].weights()
    for k, w in weights[ref].items():
        assert np.max(np.abs(w - weights[other][k])) <= 1e-9 * max(1.0, np.max(np.abs(w)))
    assert np.max(np.abs(weights[ref]["W_xh"])) > 0.01  # trained, not the initial normal(0, 0.01)


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("model", list(autoregressive.MODELS))
def test_autoregressive_float64_parity(backend_pair, model):
    ref, other = (b.NAME for b in backend_pair)
    config = {
        **autoregressive.points([ref], True)[0],
        "model": model,
        "num_hiddens": autoregressive.MODELS[model],
        "dtype": "float64",
    }
    t = autoregressive.run(config)
    m = autoregressive.run({**config, "backend": other})
    np.testing.assert_allclose(t["train_loss"], m["train_loss"], rtol=1e-9, atol=0)
    for key in ("onestep", "multistep"):
        assert np.max(np.abs(np.subtract(t[key], m[key]))) <= 1e-9
    for k in autoregressive.KS:
        assert np.max(np.abs(np.subtract(t["kstep"][str(k)]["pred"], m["kstep"][str(k)]["pred"]))) <= 1e-9
    assert t["train_loss"][-1] < 0.2 * np.var(autoregressive.series(0)[1])  # far better than predicting 0


def test_autoregressive_data_is_the_books_noisy_sine():
    time_, x = autoregressive.series(0)
    assert time_[0] == 1 and len(x) == 1000
    noise = x - np.sin(0.01 * time_)
    assert abs(noise.std() - 0.2) < 0.02 and abs(noise.mean()) < 0.03
    features, labels = autoregressive.windows(x)
    assert features.shape == (996, 4) and np.array_equal(features[10], x[10:14]) and labels[10] == x[14]


def _overfit_run(hidden, train, val, diverged=None):
    history = [
        {"epoch": i + 1, "perplexity": t, "val_perplexity": v, "grad_norm": 1.0, "clipped_fraction": 0.0}
        for i, (t, v) in enumerate(zip(train, val))
    ]
    return {
        "config": {
            "backend": "torch",
            "num_hiddens": hidden,
            "clip": 1.0,
            "sweep": "hidden units",
            "max_tokens": 0,
            "val_fraction": 0.1,
            "epochs": len(train),
            "lr": 1.0,
            "batch_size": 32,
            "num_steps": 35,
            "dtype": "float32",
        },
        "result": {"history": history, "diverged": diverged},
    }


def test_overfit_counts_a_rise_in_validation_but_never_a_divergence_as_overfitting():
    from rnnlm.study import overfit

    learns = _overfit_run(512, [9, 6, 4, 3], [9, 7, 7.5, 8.5])  # validation turns up: overfits
    steady = _overfit_run(32, [9, 8, 7, 6.5], [9.5, 8.5, 7.5, 7.0])  # still improving: does not
    # blown up: validation "best" at epoch 2, then rising while training falls from 1e25 to 1e19
    blown = _overfit_run(
        256, [1e9, 1e25, 1e20, 1e19], [1e12, 1e6, 1e30, 1e40], diverged={"epoch": 1, "perplexity": 1e9}
    )
    summary = overfit.summarize([learns, steady, blown])
    assert summary["answer"].startswith("1 of 2 runs that did not diverge overfit")
    assert "512 hidden" in summary["answer"].split(";")[1] and "Diverged: torch 256 hidden" in summary["answer"]
    table = overfit.markdown([learns, steady, blown], summary)
    assert "| no (diverged) |" in table and table.count("| yes |") == 1
