"""docs/quickstart.ipynb runs top to bottom in a real kernel (nbclient), its Colab install
cell left out (tagged `colab-install`): the bar, the inline plot, the text, the reload."""

import re
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
