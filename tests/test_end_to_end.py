"""The main job, as a user runs it: the book's default configuration, 500 epochs."""

import json

import pytest

from tests.support.commands import run_cli


@pytest.mark.slow
def test_default_run_reaches_the_books_perplexity(backend, tmp_path):
    metrics = tmp_path / "m.json"
    proc = run_cli("train", "--metrics-json", str(metrics), env={"RNNLM_BACKEND": backend.NAME})
    assert proc.returncode == 0, proc.stderr
    m = json.loads(metrics.read_text())
    assert m["backend"] == backend.NAME and m["epochs"] == 500 and len(m["history"]) == 500
    assert m["perplexity"] <= 1.5
    lines = proc.stdout.splitlines()
    assert lines[-3] == f"perplexity {m['perplexity']:.1f}, {m['tokens_per_sec']:.1f} tokens/sec on {m['device']}"
    assert lines[-2].startswith("time traveller") and lines[-1].startswith("traveller")
