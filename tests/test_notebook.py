"""docs/quickstart.ipynb runs top to bottom in a real kernel (nbclient), its install cell
left out (tagged `colab-install`): the bar, the inline plot, the text, the reload. And that
install cell, as written, installs rnnlm in a fresh venv's kernel started in docs/."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook extra (nbclient, ipykernel) is not installed")
nbclient = pytest.importorskip("nbclient", reason="the notebook extra (nbclient, ipykernel) is not installed")
pytest.importorskip("ipykernel", reason="the notebook extra (nbclient, ipykernel) is not installed")

from tests.support.backends import load_or_skip  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parent.parent / "docs" / "quickstart.ipynb"
INSTALL_TAG = "colab-install"


def text_of(cell):
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.slow
def test_quickstart_notebook_runs_with_a_bar_and_an_inline_plot(tmp_path, monkeypatch):
    load_or_skip("torch")  # the notebook trains with the default backend
    nb = nbformat.read(NOTEBOOK, as_version=4)
    install = [c for c in nb.cells if INSTALL_TAG in c.metadata.get("tags", [])]
    assert len(install) == 1 and "%pip install" in install[0].source and nb.cells.index(install[0]) == 1
    nb.cells = [c for c in nb.cells if c not in install]
    monkeypatch.setenv("RNNLM_BACKEND", "torch")  # the kernel inherits it: torch trains, another loads
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    train, plot, predict, reload, compare, both = code
    assert re.search(r"torch: perplexity \d+\.\d\d", text_of(train))
    try:
        import ipywidgets  # noqa: F401

        assert any("application/vnd.jupyter.widget-view+json" in out.get("data", {}) for out in train.outputs), (
            "no notebook progress bar"
        )
        assert "epoch 10:" not in text_of(train) and "epoch 10:" not in "".join(  # the bar alone
            out.get("text", "") for out in train.outputs
        ), text_of(train)
    except ImportError:  # tqdm.auto without widgets: plain lines, never a terminal bar's escapes
        assert "\r" not in text_of(train)
    assert any("image/png" in out.get("data", {}) for out in plot.outputs), "the plot is not inline"
    greedy, sampled = text_of(predict).splitlines()
    assert greedy.startswith("time traveller") and len(greedy) == len("time traveller") + 40
    assert (tmp_path / "quickstart.npz").exists()
    assert re.match(r"loaded into (mxnet|onnxruntime)", text_of(reload))
    line, same = text_of(compare).splitlines()
    rel = float(line.rsplit(" ", 1)[1])
    assert rel < 1e-5 and same == "same greedy text: True", text_of(compare)
    assert "max relative difference" in text_of(both) or "compare needs torch and mxnet" in text_of(both)


# run by the fresh venv's Python: its own kernel (jupyter_client starts "python" as the client's
# interpreter) executes the install cell as written, then imports rnnlm in the same kernel
INSTALL_RUNNER = """
import sys, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells = [c for c in nb.cells if sys.argv[3] in c.metadata.get("tags", [])]
nb.cells.append(nbformat.v4.new_code_cell("import rnnlm; print(rnnlm.__file__)"))
client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                 resources={"metadata": {"path": sys.argv[2]}})
client.execute()
print("".join(o.get("text", "") for o in nb.cells[-1].outputs))
"""


def torch_requirement():
    """The torch this suite runs with (its CPU wheel is on disk), else the one the brief names."""
    try:
        return "torch==" + importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return "torch==2.13.0"


@pytest.mark.slow
def test_the_install_cell_as_written_installs_rnnlm_in_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("PYTHONPATH", None)  # nothing of this checkout but what the cell installs
    pip = [python, "-m", "pip", "install", "-q"]
    # torch first: its CPU wheel, so that the cell's `torch` extra needs nothing more
    for requirement in ([torch_requirement()], ["ipykernel", "nbclient"]):
        done = subprocess.run([*pip, *requirement], env=env, capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, done.stderr[-3000:]
    ran = subprocess.run(
        [python, "-c", INSTALL_RUNNER, str(NOTEBOOK), str(NOTEBOOK.parent), INSTALL_TAG],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    root = NOTEBOOK.parent.parent
    assert ran.stdout.strip().splitlines()[-1] == str(root / "rnnlm" / "__init__.py")  # in that kernel
    after = subprocess.run(
        [python, "-c", "import rnnlm, torch; print(rnnlm.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert after.returncode == 0 and after.stdout.strip() == str(root / "rnnlm" / "__init__.py"), after.stderr
