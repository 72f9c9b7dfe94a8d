"""rnnlm's own side of the book's TensorFlow weights format (no d2l needed): exports read back
to the same model, and hostile HDF5 files -- truncated, linking elsewhere, compressed,
claiming storage they lack, nested without end -- refused in one `error:` line, exit 2."""

import numpy as np
import pytest

from rnnlm.checkpoints.file import load_checkpoint, save_checkpoint
from rnnlm.config import ModelConfig
from rnnlm.data.vocab import Vocab
from rnnlm.model.weights import init_weights
from tests.support.commands import cli

h5py = pytest.importorskip("h5py", reason="the TensorFlow weights format needs h5py: pip install -e '.[tensorflow]'")

TEXT = "the time machine by h g wells traveller"


def checkpoint(path, cell, dtype="float32", **kwargs):
    vocab = Vocab(list(TEXT))
    cfg = ModelConfig(vocab_size=len(vocab), num_hiddens=6, cell=cell, **kwargs)
    weights = init_weights(cfg, 1, dtype)
    save_checkpoint(path, cfg, vocab, weights, dtype)
    return cfg, weights


def one_line_error(code, err, *fragments):
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_an_export_imports_back_to_the_same_model(cell, dtype, tmp_path, capsys):
    cfg, weights = checkpoint(tmp_path / "a.npz", cell, dtype)
    code, _, err = cli(
        capsys, "export", tmp_path / "a.npz", "--format", "tensorflow", "--out", tmp_path / "a.weights.h5"
    )
    assert code == 0, err
    code, _, err = cli(
        capsys, "import", tmp_path / "a.weights.h5", "--out", tmp_path / "b.npz", "--corpus", _corpus(tmp_path)
    )
    assert code == 0, err
    cfg_b, _, back, meta = load_checkpoint(tmp_path / "b.npz")
    assert cfg_b == cfg and meta["dtype"] == dtype and meta["imported"]["format"] == "tensorflow"
    for name, w in weights.items():
        if name.startswith("rnn.bias") and cell != "gru":  # one Keras bias: their sum
            continue
        assert back[name].tobytes() == w.tobytes(), name
    if cell != "gru":
        total = weights["rnn.bias_ih_l0"] + weights["rnn.bias_hh_l0"]
        assert back["rnn.bias_ih_l0"].tobytes() == total.tobytes() and not back["rnn.bias_hh_l0"].any()


def _corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return path


def test_the_file_is_what_the_books_model_writes(tmp_path, capsys):
    cfg, weights = checkpoint(tmp_path / "a.npz", "gru")
    cli(capsys, "export", tmp_path / "a.npz", "--format", "tensorflow", "--out", tmp_path / "a.weights.h5")
    with h5py.File(tmp_path / "a.weights.h5") as f:
        names = []
        f.visit(names.append)
        kernel = f["layers/rnn_model/rnn/cell/vars/0"][()]
        bias = f["layers/rnn_model/rnn/cell/vars/2"][()]
    assert {
        "layers/rnn_model/rnn/cell/vars/1",
        "layers/rnn_model/dense/vars/0",
        "layers/rnn_model/vars",
        "vars",
    } <= set(names)
    h = cfg.num_hiddens  # Keras: x @ kernel, gates (z, r, n); PyTorch: x @ W.T, gates (r, z, n)
    assert np.array_equal(kernel[:, :h], weights["rnn.weight_ih_l0"][h : 2 * h].T)
    assert np.array_equal(bias[1, 2 * h :], weights["rnn.bias_hh_l0"][2 * h :])


@pytest.mark.parametrize("settings", [dict(num_layers=2), dict(bidirectional=True), dict(activation="relu")])
def test_what_the_books_class_cannot_hold_is_refused_on_export(settings, tmp_path, capsys):
    checkpoint(tmp_path / "a.npz", "rnn", **settings)
    code, _, err = cli(
        capsys, "export", tmp_path / "a.npz", "--format", "tensorflow", "--out", tmp_path / "a.weights.h5"
    )
    one_line_error(code, err, "book's TensorFlow")
    assert not (tmp_path / "a.weights.h5").exists()


def _good(tmp_path, capsys):
    checkpoint(tmp_path / "a.npz", "rnn")
    cli(capsys, "export", tmp_path / "a.npz", "--format", "tensorflow", "--out", tmp_path / "good.weights.h5")
    return tmp_path / "good.weights.h5"


def _hostile(tmp_path, capsys, kind):
    good = _good(tmp_path, capsys)
    path = tmp_path / f"{kind}.weights.h5"
    data = good.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
        return path
    if kind == "padded-claim":  # the superblock claims more bytes than the file has
        path.write_bytes(data[:40] + (len(data) * 4).to_bytes(8, "little") + data[48:])
        return path
    path.write_bytes(data)
    with h5py.File(path, "a") as f:
        if kind == "external":
            del f["layers/rnn_model/dense/vars/1"]
            f["layers/rnn_model/dense/vars/1"] = h5py.ExternalLink("/etc/passwd", "x")
        elif kind == "soft":
            del f["layers/rnn_model/dense/vars/1"]
            f["layers/rnn_model/dense/vars/1"] = h5py.SoftLink("/layers/rnn_model/dense/vars/0")
        elif kind == "compressed":
            del f["layers/rnn_model/dense/vars/0"]
            f.create_dataset("layers/rnn_model/dense/vars/0", data=np.zeros((6, 40), "f4"), compression="gzip")
        elif kind == "unstored":  # a shape of 4 GB with no bytes behind it
            del f["layers/rnn_model/dense/vars/0"]
            f.create_dataset("layers/rnn_model/dense/vars/0", shape=(1 << 15, 1 << 15), dtype="f4")
        elif kind == "deep":
            f.create_group("/".join(["g"] * 40))
        elif kind == "integers":
            del f["layers/rnn_model/dense/vars/1"]
            f["layers/rnn_model/dense/vars/1"] = np.zeros(20, "i8")
    return path


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("truncated", "truncated"),
        ("padded-claim", "truncated"),
        ("external", "link"),
        ("soft", "link"),
        ("compressed", "compressed"),
        ("unstored", "stores"),
        ("deep", "deep"),
        ("integers", "floating point"),
    ],
)
def test_a_hostile_hdf5_file_is_one_line(kind, fragment, tmp_path, capsys):
    path = _hostile(tmp_path, capsys, kind)
    code, _, err = cli(capsys, "import", path, "--out", tmp_path / "ck.npz")
    one_line_error(code, err, fragment)
    assert not (tmp_path / "ck.npz").exists()


def test_a_crash_of_the_hdf5_library_is_one_line(tmp_path, capsys, monkeypatch):
    """The reading runs in a child process: its death is reported, not shared."""
    from rnnlm.backends import tensorflow_native

    good = _good(tmp_path, capsys)
    monkeypatch.setattr(tensorflow_native.sys, "executable", "/bin/false")
    code, _, err = cli(capsys, "import", good, "--out", tmp_path / "ck.npz")
    one_line_error(code, err, "HDF5 library failed")
