import json
import zipfile

import numpy as np
import pytest

from rnnlm.checkpoints.file import META_KEY, load_checkpoint, save_checkpoint
from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError
from rnnlm.data.vocab import Vocab
from rnnlm.model.weights import init_weights

CFG = ModelConfig(vocab_size=5, num_hiddens=4, cell="gru", num_layers=2, bidirectional=True)
VOCAB = Vocab.from_tokens_list(["<unk>", "a", "b", " ", "c"])


def saved(tmp_path, **meta):
    path = tmp_path / "m.npz"
    save_checkpoint(path, CFG, VOCAB, init_weights(CFG, 3), "float32", extra=meta)
    return path


def test_round_trip_with_plain_numpy_and_no_pickle(tmp_path):
    path = saved(tmp_path, epoch=7)
    with np.load(path, allow_pickle=False) as data:
        names = set(data.files)
        meta = json.loads(str(data[META_KEY]))
    assert "rnn.weight_ih_l1_reverse" in names and "linear.bias" in names
    assert meta["version"] == 1 and meta["epoch"] == 7 and meta["vocab"] == VOCAB.idx_to_token
    cfg, vocab, weights, _ = load_checkpoint(path)
    assert cfg == CFG and vocab.idx_to_token == VOCAB.idx_to_token
    for name, w in init_weights(CFG, 3).items():
        assert (weights[name] == w).all()


def test_save_leaves_no_temporary_files_and_replaces_atomically(tmp_path):
    saved(tmp_path)
    saved(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path = saved(tmp_path)
    before = path.read_bytes()

    def boom(f, **arrays):
        f.write(b"partial")
        raise RuntimeError("disk died")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, CFG, VOCAB, init_weights(CFG, 4), "float32")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    with open(path, "wb") as f:
        np.savez(f, **{k: v for k, v in arrays.items() if v is not None})


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "does not exist"),
        ("directory", "directory"),
        ("truncated", "truncated or not a .npz"),
        ("text", "truncated or not a .npz"),
        ("no_meta", "not an rnnlm checkpoint"),
        ("version", "format version 99"),
        ("object", "object arrays"),
        ("shape", "inconsistent"),
    ],
)
def test_damaged_checkpoints_are_usage_errors(tmp_path, damage, message):
    path = saved(tmp_path)
    if damage == "missing":
        path = tmp_path / "nope.npz"
    elif damage == "directory":
        path = tmp_path
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "text":
        path.write_text("hello")
    elif damage == "no_meta":
        rewrite(path, **{META_KEY: None})
    elif damage == "version":
        meta = json.loads(str(np.load(path)[META_KEY]))
        rewrite(path, **{META_KEY: np.array(json.dumps({**meta, "version": 99}))})
    elif damage == "object":
        with open(path, "wb") as f:
            np.savez(f, evil=np.array([{"a": 1}], dtype=object))
    elif damage == "shape":
        rewrite(path, **{"linear.bias": np.zeros(3, np.float32)})
    with pytest.raises(UsageError, match=message):
        load_checkpoint(path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    import pickle

    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__meta__.npy", pickle.dumps("x"))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(UsageError):
        load_checkpoint(path)
