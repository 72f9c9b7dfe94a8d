"""Issue 28's reader findings, one by one: zip features and .npy header fields of an .npz, a
.pt's tensors (logical size, strides, dims, meta device, CRC), names that encode a layer
count, ONNX initializers, absurd resume values, FIFOs in and out. Each ends in one `error:`
line with exit 2, never a traceback, a hang or a memory blow-up."""

import json
import os
import struct
import threading
import time
import zipfile

import numpy as np
import pytest

from rnnlm.errors import UsageError
from rnnlm.io import outputs
from tests.support.commands import TINY_ARGS, tiny_checkpoint
from tests.test_hostile_files import one_error
from tests.support.extras import needs_onnx


@pytest.fixture
def ck(tmp_path):
    return tiny_checkpoint(tmp_path / "ck.npz")


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _rezip(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)


# ---- .npz: zip features -----------------------------------------------------------------


def test_an_encrypted_member_is_refused(capsys, tmp_path, ck):
    data = bytearray(open(ck, "rb").read())
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(sig)
        while at >= 0:
            data[at + flag_at] |= 1
            at = data.find(sig, at + 4)
    bad = tmp_path / "enc.npz"
    bad.write_bytes(bytes(data))
    assert "encrypted" in one_error(capsys, "eval", "--checkpoint", bad)


@pytest.mark.parametrize("method", [zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_compression_methods_other_than_stored_and_deflate_are_refused(capsys, tmp_path, ck, method):
    bad = tmp_path / "lzma.npz"
    _rezip(bad, _members(ck), method)
    assert "compression method" in one_error(capsys, "eval", "--checkpoint", bad)


def test_a_corrupt_deflate_member_is_refused(capsys, tmp_path, ck):
    bad = tmp_path / "deflate.npz"
    _rezip(bad, _members(ck), zipfile.ZIP_DEFLATED)
    data = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 4, start + info.compress_size - 4, 7):
        data[i] ^= 0x5A
    bad.write_bytes(bytes(data))
    assert "damaged" in one_error(capsys, "eval", "--checkpoint", bad)


def _npy(header_dict, payload=b""):
    header = repr(header_dict).encode("latin1")
    header += b" " * ((-(len(header) + 11)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


@pytest.mark.parametrize(
    "header",
    [
        {"descr": "<f4", "fortran_order": False, "shape": (True, 256)},
        {"descr": "<U2000000000", "fortran_order": False, "shape": (3,)},
        {"descr": "<f4", "fortran_order": False, "shape": (1,) * 40},
    ],
    ids=["bool-shape", "huge-itemsize", "40-dims"],
)
def test_npy_header_fields_are_typed_and_sized(capsys, tmp_path, ck, header):
    members = _members(ck)
    members["rnn.weight_ih_l0.npy"] = _npy(header, b"\0" * 64)
    bad = tmp_path / "header.npz"
    _rezip(bad, members)
    line = one_error(capsys, "eval", "--checkpoint", bad)
    assert "rnn.weight_ih_l0.npy" in line


# ---- .pt: tensors ---------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _pt(tmp_path, state, name="m.pt"):
    path = tmp_path / name
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.zeros(1).expand(100000, 100000),  # stride 0: 37 GiB once copied
        lambda: torch.zeros(1, 1, 1, 1, 1),  # more dims than a weight has
        lambda: torch.empty(4, device="meta"),  # no data at all
        lambda: torch.zeros(2000).as_strided((1000, 1000), (1, 1)),  # overlapping strides
    ],
    ids=["stride0", "dims", "meta", "overlap"],
)
def test_a_pt_tensor_is_checked_before_it_is_copied(capsys, tmp_path, make):
    path = _pt(tmp_path, {"rnn.weight_ih_l0": make()})
    start = time.monotonic()
    one_error(capsys, "import", path, "--out", tmp_path / "o.npz")
    assert time.monotonic() - start < 60 and not (tmp_path / "o.npz").exists()


def test_a_bit_flip_in_pt_tensor_data_is_caught_by_the_crc(capsys, tmp_path):
    from rnnlm.cli.main import main

    book = tiny_checkpoint(tmp_path / "book.npz")
    path = tmp_path / "m.pt"
    assert main(["export", book, "--format", "torch", "--out", str(path)]) == 0
    capsys.readouterr()
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size > 64)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    data[info.header_offset + 30 + name_len + extra_len + 20] ^= 0x10  # (torch pads the local extra field)
    path.write_bytes(bytes(data))
    assert "damaged" in one_error(capsys, "import", path, "--out", tmp_path / "o.npz")


def test_a_layer_index_in_a_pt_name_is_bounded_before_names_are_listed(capsys, tmp_path):
    path = _pt(
        tmp_path,
        {
            "rnn.weight_ih_l99999999": torch.zeros(2, 2),
            "rnn.weight_hh_l0": torch.zeros(2, 2),
            "linear.weight": torch.zeros(3, 2),
        },
    )
    start = time.monotonic()
    assert "at most 1024 layers" in one_error(capsys, "import", path, "--out", tmp_path / "o.npz")
    assert time.monotonic() - start < 60


def test_a_layer_index_in_a_params_name_is_bounded(capsys, tmp_path):
    from rnnlm.backends import mxnet_native

    arrays = {
        "rnn._unfused." + "9" * 200 + ".i2h_weight": np.zeros((2, 2), np.float32),
        "rnn._unfused.99999999.h2h_weight": np.zeros((2, 2), np.float32),
        "dense.weight": np.zeros((3, 2), np.float32),
    }
    path = tmp_path / "m.params"
    path.write_bytes(mxnet_native.params_bytes(arrays))
    assert "at most 1024 layers" in one_error(capsys, "import", path, "--out", tmp_path / "o.npz")


# ---- ONNX initializers ----------------------------------------------------------------------


def _onnx_file(tmp_path, capsys):
    pytest.importorskip("onnx")
    from rnnlm.cli.main import main

    path = tmp_path / "m.onnx"
    assert main(["export", tiny_checkpoint(tmp_path / "o.npz"), "--format", "onnx", "--out", str(path)]) == 0
    capsys.readouterr()
    return path


@needs_onnx
def test_a_duplicate_onnx_initializer_is_refused(capsys, tmp_path):
    import onnx
    from onnx import numpy_helper

    path = _onnx_file(tmp_path, capsys)
    model = onnx.load(str(path))
    first = next(t for t in model.graph.initializer if t.name == "linear.bias")
    model.graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(first) + 1, "linear.bias"))
    onnx.save(model, str(path))
    assert "more than once" in one_error(capsys, "eval", "--checkpoint", path)


@needs_onnx
def test_a_changed_plumbing_initializer_is_refused(capsys, tmp_path):
    import onnx
    from onnx import numpy_helper

    path = _onnx_file(tmp_path, capsys)
    model = onnx.load(str(path))
    for i, t in enumerate(model.graph.initializer):
        if t.name == "one_hot_table":
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * 2, t.name))
    onnx.save(model, str(path))
    assert "initializers differ" in one_error(capsys, "eval", "--checkpoint", path)


# ---- resume values --------------------------------------------------------------------------


def _resumable(tmp_path, capsys):
    from rnnlm.cli.main import main

    path = tmp_path / "run.npz"
    assert main(["train", *TINY_ARGS, "--save", str(path)]) == 0
    capsys.readouterr()
    return path


def _with_meta(path, dst, edit):
    arrays = dict(np.load(path, allow_pickle=False))
    meta = json.loads(str(arrays["__meta__"]))
    edit(meta)
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)
    return dst


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda m: m["train"].update(lr=1e308), "--lr must be at most"),
        (lambda m: m["rng_state"].update(uinteger=2**100), "rng_state"),
        (lambda m: m["rng_state"].update(has_uint32=2**100), "rng_state"),
        (lambda m: m["history"][0].update(perplexity=float("nan")), "out of range"),
        (lambda m: m["history"][0].update(tokens_per_sec=-1.0), "out of range"),
    ],
    ids=["lr", "uinteger", "has_uint32", "nan-history", "negative-speed"],
)
def test_absurd_but_typed_resume_values_are_refused(capsys, tmp_path, edit, fragment):
    bad = _with_meta(_resumable(tmp_path, capsys), tmp_path / "bad.npz", edit)
    line = one_error(capsys, "train", "--epochs", "2", "--quiet", "--save", bad, "--resume")
    assert fragment in line


# ---- FIFOs ------------------------------------------------------------------------------------


def test_a_fifo_as_import_input_is_refused_at_once(capsys, tmp_path):
    fifo = tmp_path / "in.pt"
    os.mkfifo(fifo)
    assert "not a regular file" in one_error(capsys, "import", fifo, "--out", tmp_path / "o.npz")


def test_an_output_fifo_with_no_reader_times_out_in_one_line(tmp_path, monkeypatch):
    fifo = tmp_path / "out.npz"
    os.mkfifo(fifo)
    monkeypatch.setattr(outputs, "FIFO_WAIT_SECONDS", 0.3)
    with pytest.raises(UsageError, match="no process read the FIFO"):
        outputs.write_bytes(str(fifo), b"data")


def test_an_output_fifo_whose_reader_comes_late_gets_the_bytes(tmp_path):
    fifo = tmp_path / "out.bin"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: (time.sleep(0.5), got.append(open(fifo, "rb").read())))
    reader.start()
    outputs.write_bytes(str(fifo), b"data")
    reader.join(10)
    assert got == [b"data"]
