"""`rnnlm launch` (issue 28): workers import this rnnlm whatever folder they start in, the
launcher alone names a group's failure, and it returns only once every process of the group
(what the workers and ps-lite's helpers started too) is gone."""

import os
import subprocess
import sys
import time

import pytest

from rnnlm.backends.common.engine import package_root, python_argv
from rnnlm.distributed import launch
from tests.support.commands import TINY_ARGS


@pytest.fixture
def shadow(tmp_path):
    """A working folder holding an `rnnlm/` directory (a clone's parent, say)."""
    (tmp_path / "rnnlm").mkdir()
    (tmp_path / "rnnlm" / "__init__.py").write_text("raise ImportError('the shadow package')\n")
    return tmp_path


def test_a_group_process_imports_this_rnnlm_not_the_working_folders(shadow):
    proc = subprocess.run(
        python_argv("import rnnlm; print(rnnlm.__file__)"), cwd=shadow, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(package_root())


@pytest.mark.parametrize("name", ["torch", "mxnet", "jax"])
def test_every_engine_starts_its_processes_pinned_to_this_rnnlm(name):
    import importlib

    engine = importlib.import_module(f"rnnlm.backends.{name}_engine")
    for spec in engine.group_processes(["train"], 2, 1, 12345):
        assert spec.argv[:2] == [sys.executable, "-c"] and repr(package_root()) in spec.argv[2]


def test_a_stopped_worker_under_the_launcher_prints_nothing(monkeypatch, capsys):
    from rnnlm.cli import doctor
    from rnnlm.cli.main import main
    from rnnlm.distributed.group import SUPERVISED
    from rnnlm.stop_signals import Terminated

    def terminated(args):
        raise Terminated()

    monkeypatch.setattr(doctor, "run", terminated)
    monkeypatch.setenv(SUPERVISED, "1")
    assert main(["doctor"]) == 143
    assert capsys.readouterr().err == ""


def test_stop_returns_only_once_the_whole_group_is_gone(tmp_path):
    """A worker that started a child of its own (as ps-lite or a framework may): the launcher
    ends the child too before it returns."""
    pidfile = tmp_path / "child"
    code = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)']); "
        f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(120)"
    )
    proc = launch._spawn([sys.executable, "-c", code], dict(os.environ))
    deadline = time.time() + 60
    while not (pidfile.exists() and pidfile.read_text()) and time.time() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    launch._stop([("worker 0", proc)])
    assert proc.poll() is not None and not launch._group_alive(proc.pid)
    try:  # reaped by init, or a zombie at most
        with open(f"/proc/{child}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        pass


@pytest.mark.slow
def test_launch_from_a_folder_holding_rnnlm_trains(shadow):
    pytest.importorskip("torch")
    launcher = [
        sys.executable,
        "-c",
        "import sys; sys.path[0] = %r; from rnnlm.cli.main import main; sys.exit(main())" % package_root(),
        "launch",
        "--workers",
        "2",
        "--",
        "train",
        *TINY_ARGS,
        "--backend",
        "torch",
        "--batch-size",
        "4",
        "--num-steps",
        "5",
    ]
    done = subprocess.run(launcher, cwd=shadow, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "perplexity" in done.stdout and "ImportError" not in done.stderr
