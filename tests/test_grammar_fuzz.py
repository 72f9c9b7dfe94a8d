"""A structured fuzz suite per reader (issue 28): Hypothesis builds files from each format's
grammar (tests/support/grammars.py) and a worker process reads them under a memory limit and a
per-case alarm (tests/support/grammar_fuzz.py), after the regression corpus of files that once made a
reader fail (tests/support/fuzz_corpus.py). Every case must be accepted or refused in one line:
0 tracebacks, hangs, crashes or memory blow-ups. The counts print with `pytest -s`.

Hypothesis runs with `derandomize=True` (the same cases each run) and no example database;
the default run draws EXAMPLES[reader] cases per reader, the slow marker SLOW_EXAMPLES[reader]
(the readers that train or draw a figure per case take fewer: a case costs them ~0.5 s)."""

import json
import os
import subprocess
import sys

import pytest

READERS = {
    "npz": None,
    "pt": "torch",
    "params": None,
    "onnx": "onnx",
    "resume": "torch",
    "metrics": "matplotlib",
    "study": None,
}
# the fast tier's draw (half what it was, for the README's test command's 10-minute budget);
# the slow tier's is as many as before
EXAMPLES = {"npz": 150, "pt": 150, "params": 150, "onnx": 150, "resume": 50, "metrics": 50, "study": 150}
SLOW_EXAMPLES = {reader: 20 * n for reader, n in EXAMPLES.items()}
WORKER_SECONDS = 1800


def fuzz(reader, examples, tmp_path, capsys):
    needs = READERS[reader]
    if needs:
        pytest.importorskip(needs)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.grammar_fuzz", reader, str(examples), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=WORKER_SECONDS,
        cwd=root,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, f"the worker died (status {proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    with capsys.disabled():
        print(
            f"\nfuzz {reader}: {report['cases']} cases {report['counts']}; corpus "
            f"{report['corpus_cases']} {report['corpus']}"
        )
    assert not report["bad"], report["bad"]
    assert report["cases"] == examples
    assert report["counts"]["refused"] + report["counts"].get("run again", 0) > 0  # the checks were reached
    assert report["counts"]["accepted"] > 0  # and valid files still read


@pytest.mark.parametrize("reader", list(READERS))
def test_grammar_fuzz(reader, tmp_path, capsys):
    fuzz(reader, EXAMPLES[reader], tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("reader", list(READERS))
def test_grammar_fuzz_long(reader, tmp_path, capsys):
    fuzz(reader, SLOW_EXAMPLES[reader], tmp_path, capsys)
