"""Fuzz every reader: seeded mutations of a real file (`.params` and `.pt` for import, `.npz` and
`.onnx` as --checkpoint, compressed containers, corpora), each case in a worker process under a
memory limit and a per-case alarm (tests/support/fuzz_readers.py). Every case must end in success or
exactly one UsageError: 0 tracebacks, crashes, hangs or memory blow-ups. The counts by outcome
are printed (`pytest -s`)."""

import json
import os
import subprocess
import sys

import pytest

from rnnlm.cli.main import main

CASES = {"params": 300, "pt": 200, "npz": 300, "onnx": 200, "container": 150, "corpus": 200, "corpus-raw": 200}
SEED = 19


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory):
    """A real file for each reader, written by rnnlm (whose exports the book's classes load)."""
    folder = tmp_path_factory.mktemp("fuzz-seeds")
    ck = folder / "ck.npz"
    assert (
        main(
            [
                "train",
                "--epochs",
                "1",
                "--num-hiddens",
                "4",
                "--max-tokens",
                "2000",
                "--quiet",
                "--batch-size",
                "4",
                "--num-steps",
                "5",
                "--save",
                str(ck),
            ]
        )
        == 0
    )
    files = {
        "npz": ck,
        "params": folder / "m.params",
        "pt": folder / "m.pt",
        "onnx": folder / "m.onnx",
        "corpus": folder / "text.txt",
        "corpus-raw": folder / "text.txt",
        "container": folder / "text.rz",
    }
    assert main(["export", str(ck), "--format", "mxnet", "--out", str(files["params"])]) == 0
    for fmt in ("torch", "onnx"):
        try:
            main(["export", str(ck), "--format", fmt, "--out", str(files["pt" if fmt == "torch" else "onnx"])])
        except SystemExit:
            pass
    files["corpus"].write_text(
        "The Time Traveller (for so it will be convenient to speak of him)\n"
        "was expounding a recondite matter to us. \u00e9\u4e00\n" * 4
    )
    try:
        main(
            [
                "compress",
                str(files["corpus"]),
                "-o",
                str(files["container"]),
                "--online",
                "--num-hiddens",
                "8",
                "--backend",
                "torch",
            ]
        )
    except SystemExit:
        pass
    return files


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(CASES))
def test_every_mutated_file_is_read_or_refused_in_one_line(kind, seed_files, tmp_path, capsys):
    seed = seed_files[kind]
    if not os.path.exists(seed):
        pytest.skip(f"no {kind} seed file (its framework or constriction is not installed)")
    capsys.readouterr()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.fuzz_readers",
            kind,
            str(seed),
            str(CASES[kind]),
            str(SEED),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    last = (tmp_path / "last-case").read_text() if (tmp_path / "last-case").exists() else "none"
    assert proc.returncode == 0, f"the worker died (status {proc.returncode}) at case {last}: {proc.stderr[-1500:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    with capsys.disabled():
        print(f"\nfuzz {kind}: {report['cases']} cases, {report['counts']}")
    assert not report["bad"], report
    assert sum(report["counts"].values()) == CASES[kind]
    assert report["counts"].get("usage error", 0) > 0  # the mutations did reach the checks
