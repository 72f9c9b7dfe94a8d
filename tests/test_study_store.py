"""A study's stored runs are files from anywhere (issue 28): a run file that is missing a key,
retyped, nested deep or holds a forged perplexity is run again (with a note), never a
traceback; one that is not a regular file, and reports that cannot be written, are one line
before any run."""

import json
import os

import pytest

from rnnlm.errors import UsageError
from rnnlm.study.schema import RunSchemaError, check_result
from rnnlm.study.store import RunStore
from tests.test_hostile_files import one_error

CONFIG = {"backend": "torch", "num_hiddens": 8}
EPOCH = {
    "epoch": 1,
    "perplexity": 12.5,
    "tokens_per_sec": 1000.0,
    "seconds": 0.5,
    "val_perplexity": 13.0,
    "grad_norm": 0.7,
    "clipped_fraction": 0.0,
}
RESULT = {
    "history": [EPOCH],
    "vocab_size": 28,
    "stopped": None,
    "diverged": None,
    "train_tokens": 1000,
    "unigram_perplexity": 18.0,
    "tokens_per_sec": 1000.0,
    "wall_seconds": 2.0,
}


def _store(tmp_path, result=RESULT, text=None):
    store = RunStore(str(tmp_path), "overfit")
    os.makedirs(store.folder, exist_ok=True)
    with open(store.path(CONFIG), "w") as f:
        f.write(text if text is not None else json.dumps({"config": CONFIG, "result": result}))
    return store


def test_a_valid_stored_run_is_reused(tmp_path):
    assert _store(tmp_path).load(CONFIG) == RESULT


def test_a_diverged_run_as_the_studies_write_it_is_valid():
    diverged = {
        **RESULT,
        "history": [{**EPOCH, "perplexity": "inf", "grad_norm": "nan"}],
        "stopped": {"epoch": 1, "perplexity": "inf"},
    }
    check_result("overfit", diverged)
    check_result(
        "scratch",
        {
            "history": [{**EPOCH, "perplexity": float("inf"), "grad_norm": float("nan")}],
            "vocab_size": 28,
            "diverged": None,
            "perplexity": float("inf"),
            "tokens_per_sec": 10.0,
        },
    )


def _forged(key, value):
    return {**RESULT, "history": [{**EPOCH, key: value}]}


@pytest.mark.parametrize(
    "result",
    [
        {k: v for k, v in RESULT.items() if k != "vocab_size"},  # a key missing
        {**RESULT, "vocab_size": "28"},  # retyped
        {**RESULT, "history": {"epoch": 1}},  # retyped
        _forged("perplexity", float("nan")),
        _forged("perplexity", -3.0),
        _forged("perplexity", 0.5),
        _forged("perplexity", "abc"),
        _forged("epoch", True),
        _forged("clipped_fraction", 2.0),
    ],
    ids=["missing", "retyped-int", "retyped-list", "nan", "negative", "below-1", "string", "bool-epoch", "fraction"],
)
def test_a_forged_or_damaged_run_is_run_again_with_a_note(tmp_path, capsys, result):
    with pytest.raises(RunSchemaError):
        check_result("overfit", result)
    assert _store(tmp_path, result).load(CONFIG) is None
    assert "running it again" in capsys.readouterr().err


def test_a_run_nested_100000_deep_is_run_again(tmp_path, capsys):
    deep = '{"config": ' + json.dumps(CONFIG) + ', "result": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert _store(tmp_path, text=deep).load(CONFIG) is None
    assert "deeper than" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_a_run_file_that_is_not_a_regular_file_is_one_error(tmp_path, kind):
    store = RunStore(str(tmp_path), "overfit")
    os.makedirs(store.folder)
    path = store.path(CONFIG)
    {"fifo": os.mkfifo, "dev-zero": lambda p: os.symlink("/dev/zero", p), "folder": os.mkdir}[kind](path)
    with pytest.raises(UsageError):
        store.load(CONFIG)


def test_a_runs_path_that_is_a_file_is_one_error(tmp_path, capsys):
    (tmp_path / "overfit.runs").write_text("x")
    assert "not a folder" in one_error(capsys, "study", "overfit", "--quick", "--out", tmp_path)


@pytest.mark.parametrize("kind", ["read-only", "folder"])
def test_a_report_that_cannot_be_written_is_one_error_before_any_run(tmp_path, capsys, kind):
    report = tmp_path / "overfit.md"
    if kind == "folder":
        report.mkdir()
    else:
        report.write_text("old")
        report.chmod(0o444)
    one_error(capsys, "study", "overfit", "--quick", "--out", tmp_path)
    assert not (tmp_path / "overfit.runs").exists()  # no run started
