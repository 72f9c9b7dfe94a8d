"""The book's TensorFlow files: d2l 0.17.6's own TF `RNNModel`, trained by its `train_ch8` and
saved as a Keras `.weights.h5`, imported by rnnlm and run on every backend (its `predict_ch8`
text and its perplexity reproduced); rnnlm's exports loaded back into the book's class; and
hostile HDF5 files refused in one line.

The book's code runs in a fresh process (tests/support/tensorflow_book.py) under Keras 2, which its
`time_major` needs; these tests skip, saying why, when d2l, tf-keras or TensorFlow is missing."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from rnnlm.backend import BACKENDS, INFERENCE_BACKENDS
from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.data.corpus import EMBEDDED_NAME
from tests.support.backends import load_or_skip
from tests.support.commands import BOOK_TOKENS, cli, rnnlm_eval, rnnlm_predict

HIDDEN, EPOCHS = 16, 3
ACROSS = 1e-5  # relative, on perplexity: the book's Keras kernels against each backend's
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def needs_the_book():
    for module, why in (
        ("d2l", "the book's package: pip install --no-deps d2l==0.17.6"),
        ("tf_keras", "Keras 2, which the book's time_major needs: pip install --no-deps tf-keras"),
        ("tensorflow", "pip install -e '.[tensorflow]'"),
    ):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed ({why})")


@pytest.fixture(scope="module")
def book_cwd(tmp_path_factory):
    """A working folder whose ../data holds the corpus as d2l's download cache expects it."""
    root = tmp_path_factory.mktemp("d2l-tf")
    (root / "data").mkdir()
    shutil.copy(
        os.path.join(os.path.dirname(sys.modules["rnnlm"].__file__), "data", EMBEDDED_NAME),
        root / "data" / "timemachine.txt",
    )
    (root / "work").mkdir()
    return root / "work"


def run_book(cwd, *argv):
    """The book's code in a fresh process: its JSON report (vocab, ppl, text)."""
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-m", "tests.support.tensorflow_book", *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


_TRAINED = {}


def book_file(cell, cwd, folder):
    """The book's model of `cell`, trained by train_ch8 and saved: (path, report)."""
    if cell not in _TRAINED:
        needs_the_book()
        path = folder / f"book-{cell}.weights.h5"
        _TRAINED[cell] = (path, run_book(cwd, "train", cell, HIDDEN, EPOCHS, path))
    return _TRAINED[cell]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("book-tf-files")


@pytest.mark.slow  # the book's eager Keras loop, in a fresh process
@pytest.mark.parametrize("run_backend", list(BACKENDS + INFERENCE_BACKENDS))
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_the_books_tensorflow_file_imports_and_runs_as_the_book_does(
    cell, run_backend, folder, book_cwd, tmp_path, capsys
):
    path, trained = book_file(cell, book_cwd, folder)
    ck = tmp_path / "ck.npz"
    code, _, err = cli(capsys, "import", path, "--out", ck)
    assert code == 0, err
    cfg, vocab, _, meta = load_checkpoint(ck)
    assert vocab.idx_to_token == trained["vocab"] and cfg.cell == cell and cfg.num_hiddens == HIDDEN
    assert meta["imported"]["format"] == "tensorflow"
    load_or_skip(run_backend)
    ppl = rnnlm_eval(capsys, tmp_path, ck, run_backend)
    assert abs(ppl - trained["ppl"]) / trained["ppl"] <= ACROSS, (ppl, trained["ppl"])
    assert rnnlm_predict(capsys, ck, run_backend) == trained["text"]


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_an_export_loads_into_the_books_class(cell, book_cwd, tmp_path, capsys):
    """A model rnnlm trained (on TensorFlow) and exported: the book's class loaded with it
    predicts rnnlm's text and has rnnlm's perplexity."""
    needs_the_book()
    load_or_skip("tensorflow")
    ck, out = tmp_path / "ck.npz", tmp_path / "m.weights.h5"
    code, _, err = cli(
        capsys,
        "train",
        "--backend",
        "tensorflow",
        "--model",
        cell,
        "--num-hiddens",
        HIDDEN,
        "--epochs",
        2,
        "--max-tokens",
        BOOK_TOKENS,
        "--batch-size",
        8,
        "--num-steps",
        10,
        "--quiet",
        "--save",
        ck,
    )
    assert code == 0, err
    code, printed, err = cli(capsys, "export", ck, "--format", "tensorflow", "--out", out)
    assert code == 0, err
    assert "tf.keras.Sequential([net]).load_weights(PATH)" in printed
    loaded = run_book(book_cwd, "load", cell, HIDDEN, out)
    ppl = rnnlm_eval(capsys, tmp_path, ck, "tensorflow")
    assert abs(loaded["ppl"] - ppl) / ppl <= ACROSS, (loaded["ppl"], ppl)
    assert loaded["text"] == rnnlm_predict(capsys, ck, "tensorflow")
