"""Which Pythons get which frameworks: setup.cfg's markers, and the one error line where
MXNet cannot be installed (Python 3.13: MXNet 1.9.1 needs NumPy < 2, which has no wheel)."""

import configparser
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from rnnlm.backend import SPECS
from rnnlm.install import unsupported_python

ROOT = Path(__file__).resolve().parent.parent


def extra(name, python):
    """The requirements extra `name` asks for on Python `python` ("3.12")."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    lines = [ln for ln in cfg["options.extras_require"][name].strip().splitlines() if ln.strip()]
    env = {"python_version": python, "python_full_version": python + ".0"}
    return {r.name: str(r.specifier) for r in map(Requirement, lines) if r.marker is None or r.marker.evaluate(env)}


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13", "3.14"])
@pytest.mark.parametrize("name", ["mxnet", "all"])
def test_mxnet_and_its_numpy_bound_only_where_mxnet_installs(name, python):
    wanted = extra(name, python)
    if python < "3.13":
        assert wanted["mxnet"] == "==1.9.1" and wanted["numpy"] == "<2"
    else:
        assert "mxnet" not in wanted and "numpy" not in wanted
    assert ("setuptools" in wanted) == (python == "3.12")  # distutils left the stdlib in 3.12
    if name == "all":
        assert {"torch", "onnx", "onnxruntime", "constriction", "matplotlib", "pytest"} <= set(wanted)


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_jax_below_0_7_beside_numpy_1_above_it_on_3_13(python):
    jax = extra("jax", python)["jax"]
    assert jax == ("<0.7,>=0.4.30" if python < "3.13" else ">=0.7")


def test_python_requires_matches_the_supported_pythons():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["options"]["python_requires"].strip() == ">=3.10"


def test_unsupported_python_says_why_for_mxnet_only_past_3_12():
    mxnet, torch = SPECS["mxnet"], SPECS["torch"]
    assert "no wheel for Python 3.13" in unsupported_python(mxnet, (3, 13))
    assert "NumPy < 2" in unsupported_python(mxnet, (3, 14, 1))
    assert unsupported_python(mxnet, (3, 12)) is None and unsupported_python(mxnet, (3, 10)) is None
    assert unsupported_python(torch, (3, 13)) is None


def test_mxnet_where_it_cannot_install_is_one_error_line_and_exit_2():
    """On Python >= 3.13 for real; below, as 3.13 looks: mxnet absent, sys.version_info 3.13."""
    code = "import sys\nfrom rnnlm.cli.main import main\n"
    if sys.version_info < (3, 13):  # after the imports, which check the real version
        code += "sys.modules['mxnet'] = None; sys.version_info = (3, 13, 0, 'final', 0)\n"
    code += "sys.exit(main(['train', '--backend', 'mxnet', '--epochs', '1']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: backend 'mxnet' is not available on this Python: MXNet 1.9.1")
    assert "no wheel for Python 3.13" in lines[0] and "python3.12 -m venv VENV" in lines[0]
