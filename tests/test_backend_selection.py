import re
import subprocess
import sys

import pytest

from rnnlm.backend import SPECS, select_backend
from rnnlm.errors import UsageError


def test_import_rnnlm_loads_no_framework():
    code = (
        "import sys, rnnlm, rnnlm.cli.main, rnnlm.training.loop, rnnlm.model.generate, rnnlm.api, "
        "rnnlm.interop.convert, rnnlm.model.names; print(sorted(m for m in ('torch', 'mxnet', 'onnx', "
        "'onnxruntime', 'matplotlib', 'tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_backend_names_the_choices():
    every = re.escape(", ".join(SPECS))  # the registry's names, in its order
    with pytest.raises(UsageError, match=rf"unknown backend 'bogus' \(choose from: {every}\)"):
        select_backend(None, {"RNNLM_BACKEND": "bogus"})


def test_flag_beats_environment(backend):
    other = "mxnet" if backend.NAME == "torch" else "torch"
    assert select_backend(backend.NAME, {"RNNLM_BACKEND": other}).NAME == backend.NAME


def test_environment_is_used_and_empty_counts_as_unset(backend):
    assert select_backend(None, {"RNNLM_BACKEND": backend.NAME}).NAME == backend.NAME
    default = select_backend(None, {"RNNLM_BACKEND": ""})
    assert default.NAME == select_backend(None, {}).NAME


def test_default_prefers_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        pytest.skip("torch is not installed")
    assert select_backend(None, {}).NAME == "torch"


@pytest.mark.parametrize(
    "framework, backend, extra",
    [("torch", "torch", "torch"), ("jax", "jax", "jax"), ("onnxruntime", "onnxruntime", "onnx")],
)
def test_missing_framework_names_the_pip_extra(framework, backend, extra):
    # a fresh interpreter in which importing the framework fails, as on a machine without it
    code = (
        f"import sys; sys.modules[{framework!r}] = None\n"
        "from rnnlm.backend import load_backend\n"
        "from rnnlm.errors import UsageError\n"
        f"try:\n    load_backend({backend!r})\nexcept UsageError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from rnnlm.install import install_hint

    assert f"needs {framework}" in out.stdout
    assert install_hint(extra) in out.stdout and f"[{extra}]'" in out.stdout
    assert "pip install 'rnnlm[" not in out.stdout  # the index's rnnlm is another project
