"""The backends install under rnnlm's own name: a user's folder that holds an unrelated
`backends/` package cannot shadow them, editable or installed."""

import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.commands import HANG_GUARD_SECONDS, TINY_ARGS, run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def foreign_folder(tmp_path):
    """A working folder with its own `backends` package, as a user's project may have."""
    pkg = tmp_path / "backends"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('this is the user\\'s own backends package')\n")
    return tmp_path


def run_rnnlm(folder, *args, env=None):
    return run_cli(*args, env=env, cwd=folder)


def test_the_wheel_holds_every_module_under_rnnlm_and_no_top_level_backends(tmp_path):
    """Built as a user's pip builds it: every source module and the corpus are in the wheel,
    all under rnnlm/ (a subpackage missing from setup.cfg would be left out)."""
    for tool in ("setuptools", "wheel"):  # built without isolation, from what this venv has
        pytest.importorskip(tool, reason=f"building the wheel here needs {tool} in this venv")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        inside = {n for n in z.namelist() if not n.split("/")[0].endswith(".dist-info")}
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "rnnlm").rglob("*.py")}
    sources |= {"rnnlm/backends/" + str(p.relative_to(ROOT / "backends")) for p in (ROOT / "backends").rglob("*.py")}
    assert sources - inside == set()
    assert "rnnlm/data/timemachine.txt" in inside
    assert {n.split("/")[0] for n in inside} == {"rnnlm"}


@pytest.mark.parametrize("command", ["train", pytest.param("launch", marks=pytest.mark.slow)])
def test_editable_install_ignores_a_foreign_backends_folder(backend, foreign_folder, command):
    args = ["train", "--backend", backend.NAME, *TINY_ARGS]
    if command == "launch":
        args = ["launch", "--workers", "2", "--", *args, "--batch-size", "32"]
    proc = run_rnnlm(foreign_folder, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("perplexity ")


@pytest.mark.slow
def test_installed_copy_ignores_a_foreign_backends_folder(backend, foreign_folder, tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    assert (target / "rnnlm" / "backends" / "torch_impl.py").exists() and not (target / "backends").exists()
    env = {"PYTHONPATH": str(target)}
    for args in (
        ["train", "--backend", backend.NAME, *TINY_ARGS],
        ["launch", "--workers", "2", "--", "train", "--backend", backend.NAME, *TINY_ARGS],
    ):
        proc = run_rnnlm(foreign_folder, *args, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.startswith("perplexity ")
    where = run_rnnlm(foreign_folder, "--version", env=env)
    assert where.returncode == 0
    located = subprocess.run(
        [sys.executable, "-c", "import rnnlm.backends.torch_engine as m; print(m.__file__)"],
        cwd=foreign_folder,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert located.stdout.strip().startswith(str(target))


def test_a_plain_clone_runs_without_installing(tmp_path, any_backend):
    """`python -m rnnlm` in a checkout that no installation knows (`-S`: no site-packages .pth
    files, so no editable mapping either; the frameworks come from PYTHONPATH)."""
    for part in ("rnnlm", "backends"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "rnnlm", "train", "--backend", any_backend, *TINY_ARGS],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("perplexity ")
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import rnnlm.backends.registry as r; print(r.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.stdout.strip() == str(tmp_path / "backends" / "registry.py"), where.stderr
