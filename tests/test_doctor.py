"""`rnnlm doctor`: the report, and the fix it names when a framework is missing."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import rnnlm
from rnnlm import __version__
from rnnlm.backend import BACKENDS, INFERENCE_BACKENDS, SPECS, load_backend
from rnnlm.cli.doctor import render
from rnnlm.errors import UsageError
from rnnlm.install import install_hint


def doctor(*args, blocked=()):
    """`rnnlm doctor ARGS` in a fresh interpreter where the modules `blocked` do not import."""
    code = (
        f"import sys\nfor name in {list(blocked)!r}: sys.modules[name] = None\n"
        "from rnnlm.cli.main import main\nsys.exit(main(['doctor', *sys.argv[1:]]))"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def importable():
    names = []
    for name in BACKENDS + INFERENCE_BACKENDS:
        try:
            names.append((name, load_backend(name).framework_version()))
        except UsageError:
            pass
    return names


@pytest.fixture(scope="module")
def reported():
    proc = doctor("--json")
    return proc, json.loads(proc.stdout)


def test_reports_python_numpy_rnnlm_and_every_backend(reported):
    proc, report = reported
    assert report["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert report["numpy"]["version"] == np.__version__
    assert report["rnnlm"]["version"] == __version__ and report["rnnlm"]["problem"] is None
    assert report["rnnlm"]["imported_from"] == os.path.dirname(os.path.abspath(rnnlm.__file__))
    by_name = {b["name"]: b for b in report["backends"]}
    assert list(by_name) == list(BACKENDS + INFERENCE_BACKENDS)
    found = importable()
    for name, version in found:
        assert by_name[name]["ok"] and by_name[name]["version"] == version, by_name[name]
        assert by_name[name]["devices"], name
    for name in set(by_name) - {n for n, _ in found}:
        assert not by_name[name]["ok"] and by_name[name]["fix"], by_name[name]
    trains = any(name in BACKENDS for name, _ in found)
    assert proc.returncode == (0 if trains else 2)
    if "torch" in dict(found):
        import torch

        threads = by_name["torch"]["threads"]  # the subprocess's count: this process's may be pinned
        assert isinstance(threads, int) and 1 <= threads <= (os.cpu_count() or 1)
        assert by_name["torch"]["blas"] and by_name["torch"]["blas"] in torch.__config__.show()
    if "mxnet" in dict(found):
        assert "BLAS_OPEN" in by_name["mxnet"]["features"] or any(
            f.startswith("BLAS") for f in by_name["mxnet"]["features"]
        )


def test_text_report_has_one_line_per_backend(reported):
    lines = render(reported[1]).splitlines()
    assert lines[0].startswith(f"python       {sys.version_info[0]}.{sys.version_info[1]}")
    assert lines[1].startswith(f"numpy        {np.__version__}")
    for name, version in importable():
        assert any(line.startswith(name) and f" ok {version}" in line for line in lines), (name, lines)


def test_without_mxnet_says_so_and_names_the_fix():
    try:
        load_backend("torch")
    except UsageError:
        pytest.skip("needs torch, so that something still trains without mxnet")
    proc = doctor(blocked=["mxnet"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("mxnet") and "unavailable" in line for line in lines), lines
    fix = lines.index(next(line for line in lines if line.startswith("  mxnet: "))) + 1
    expected = "python3.12 -m venv" if sys.version_info >= (3, 13) else install_hint("mxnet")
    assert lines[fix].startswith("    fix: ") and expected in lines[fix], lines[fix]


def test_nothing_that_trains_exits_2_naming_every_fix():
    frameworks = [module for name in BACKENDS for module in SPECS[name].needs]
    proc = doctor(blocked=frameworks)
    assert proc.returncode == 2, proc.stdout
    assert "no backend that trains works" in proc.stdout
    fixes = [line for line in proc.stdout.splitlines() if line.startswith("    fix: ")]
    assert any(install_hint("torch") in line for line in fixes), fixes
    assert len(fixes) >= len(BACKENDS)
