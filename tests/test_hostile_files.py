"""The hostile-input probe's cases, one by one: crafted headers that claim what the file does not
hold, bombs, devices and FIFOs as inputs and outputs. Each ends in exactly one `error:` line
(or a correct result), never a traceback, a memory blow-up, a hang or a destroyed file."""

import io
import json
import os
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from rnnlm.compression import container
from rnnlm.backends import mxnet_native
from rnnlm.checkpoints.file import META_KEY
from rnnlm.cli.main import main
from rnnlm.errors import UsageError
from rnnlm.io.limits import MAX_JSON_DEPTH
from rnnlm.data.vocab import Vocab
from tests.support.backends import load_or_skip


def one_error(capsys, *argv):
    """Run the CLI; assert it ended in one `error:` line, exit 2; return that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    return lines[0]


def params(arrays, names, count=None):
    """A .params file's bytes from (magic, stype, ndim, dims, flag, data) tuples."""
    out = struct.pack("<QQQ", 0x112, 0, len(arrays) if count is None else count)
    for magic, stype, ndim, dims, flag, data in arrays:
        out += struct.pack("<Iii", magic, stype, ndim) + struct.pack(f"<{len(dims)}q", *dims)
        out += struct.pack("<iii", 1, 0, flag) + data
    out += struct.pack("<Q", len(names))
    for n in names:
        out += struct.pack("<Q", len(n)) + n
    return out


GOOD = (mxnet_native.V2_MAGIC, 0, 1, (2,), 0, b"\0" * 8)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (params([(mxnet_native.V2_MAGIC, 0, -1, (), 0, b"")], [b"a"]), "claims -1 dimensions"),  # was a segfault
        (struct.pack("<QQQ", 0x112, 0, 1 << 26) + b"\0" * 64, "claims 67108864 arrays"),
        (params([GOOD], [b""])[:-8] + struct.pack("<Q", 10**10), "claims 10000000000 bytes"),
        (params([(mxnet_native.V2_MAGIC, 0, 2, (1 << 40, 1 << 20), 0, b"")], [b"a"]), "truncated"),
        (params([GOOD], [b"a", b"b"]), "1 arrays but 2 names"),
        (params([GOOD], [b"a"]) + b"x", "bytes after the last name"),
        (params([(0xF993FAC8, 0, 1, (2,), 0, b"")], [b"a"]), "older formats"),
        (params([(mxnet_native.V2_MAGIC, 0, 1, (2,), 4, b"\0" * 8)], [b"a"]), "dtype int32"),
        (params([(mxnet_native.V2_MAGIC, 1, 1, (2,), 0, b"")], [b"a"]), "row_sparse"),
        (params([(mxnet_native.V2_MAGIC, 0, 1, (2,), 77, b"")], [b"a"]), "dtype flag 77"),
    ],
    ids=["ndim-1", "2^26 arrays", "1e10-byte name", "huge shape", "names", "trailing", "v1", "int32", "sparse", "flag"],
)
def test_crafted_params_headers_are_one_line(data, fragment, tmp_path, capsys):
    (tmp_path / "x.params").write_bytes(data)
    line = one_error(capsys, "import", tmp_path / "x.params", "--out", tmp_path / "ck.npz")
    assert fragment in line and "Traceback" not in line
    assert not (tmp_path / "ck.npz").exists()


def test_a_params_file_is_read_without_mxnet():
    """The reader is NumPy alone: a subprocess where mxnet cannot import still reads one."""
    named = {"rnn.l0_i2h_weight": np.arange(6, dtype=np.float32).reshape(2, 3)}
    code = (
        "import sys; sys.modules['mxnet'] = None\n"
        "from rnnlm.backends import mxnet_native as m\n"
        f"d = m.parse_params({mxnet_native.params_bytes(named)!r}, 'x')\n"
        "print(d['rnn.l0_i2h_weight'].tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]"


def test_params_bytes_are_what_mxnet_writes(tmp_path):
    load_or_skip("mxnet")  # the backend imports MXNet as it must be imported (NumPy's alias first)
    import mxnet as mx

    named = {
        "a.w": np.random.default_rng(0).random((3, 4), dtype=np.float32),
        "b": np.random.default_rng(1).random(5),
        "c": np.ones(2, np.float16),
    }
    mx.nd.save(str(tmp_path / "ref.params"), {k: mx.nd.array(v, dtype=v.dtype) for k, v in named.items()})
    assert (tmp_path / "ref.params").read_bytes() == mxnet_native.params_bytes(named)


def zip_bomb(path, member, claimed_mib):
    """A deflated member of `claimed_mib` MiB of zeros: a few kB on disk."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(member, "w", force_zip64=True) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(claimed_mib):
                f.write(chunk)


def test_a_torch_zip_bomb_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch", reason="reading a .pt file needs torch")
    zip_bomb(tmp_path / "bomb.pt", "archive/data.pkl", 256)
    assert os.path.getsize(tmp_path / "bomb.pt") < 1 << 20
    line = one_error(capsys, "import", tmp_path / "bomb.pt", "--out", tmp_path / "ck.npz")
    assert "zip bomb" in line


def test_an_npz_bomb_is_one_line(tmp_path, capsys):
    zip_bomb(tmp_path / "bomb.npz", "rnn.weight_ih_l0.npy", 256)
    line = one_error(capsys, "eval", "--checkpoint", tmp_path / "bomb.npz")
    assert "zip bomb" in line


def test_an_npy_header_claiming_terabytes_is_one_line(tmp_path, capsys):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
    with zipfile.ZipFile(tmp_path / "big.npz", "w") as z:
        z.writestr("rnn.weight_ih_l0.npy", buf.getvalue() + b"\0" * 64)
        z.writestr(META_KEY + ".npy", b"")
    line = one_error(capsys, "eval", "--checkpoint", tmp_path / "big.npz")
    assert "more than its" in line


def test_deeply_nested_metadata_is_one_line(tmp_path, capsys):
    nested = "[" * 100_000 + "]" * 100_000
    with open(tmp_path / "deep.npz", "wb") as f:
        np.savez(f, **{META_KEY: np.array(nested)})
    line = one_error(capsys, "eval", "--checkpoint", tmp_path / "deep.npz")
    assert f"deeper than {MAX_JSON_DEPTH}" in line


def test_foreign_operators_in_an_exported_onnxruntime_native_are_refused(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    assert (
        main(
            [
                "train",
                "--epochs",
                "1",
                "--num-hiddens",
                "4",
                "--max-tokens",
                "2000",
                "--quiet",
                "--batch-size",
                "4",
                "--num-steps",
                "5",
                "--save",
                str(tmp_path / "ck.npz"),
            ]
        )
        == 0
    )
    assert main(["export", str(tmp_path / "ck.npz"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    capsys.readouterr()
    model = onnx.load(str(tmp_path / "m.onnx"))
    model.graph.node.append(onnx.helper.make_node("Relu", ["logits"], ["extra"]))
    (tmp_path / "edited.onnx").write_bytes(model.SerializeToString())
    line = one_error(capsys, "predict", "a", "--checkpoint", tmp_path / "edited.onnx", "--backend", "onnxruntime")
    assert "operators rnnlm does not write (Relu)" in line
    model = onnx.load(str(tmp_path / "m.onnx"))
    for prop in model.metadata_props:
        if prop.key == "rnnlm.model":
            prop.value = "{" * 10_000
    (tmp_path / "meta.onnx").write_bytes(model.SerializeToString())
    assert "deeper than" in one_error(
        capsys, "eval", "--checkpoint", tmp_path / "meta.onnx", "--backend", "onnxruntime"
    )


# ---- corpora ----------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_as_corpora_and_inputs(device, tmp_path, capsys):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    assert "not a regular file" in one_error(capsys, "train", "--corpus", device, "--epochs", "1")
    assert "not a regular file" in one_error(capsys, "compress", device, "-o", tmp_path / "o", "--online")


def test_a_fifo_without_a_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [sys.executable, "-m", "rnnlm", "eval", "--checkpoint", "x.npz", "--corpus", str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    # the checkpoint is checked first; now with one that exists
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "rnnlm", "train", "--corpus", str(fifo), "--epochs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: corpus '{fifo}' is not a regular file (a device, FIFO or socket)"
    ]


def test_raw_vocabulary_is_built_in_linear_time():
    """100,000 distinct characters took 4 min 20 s (quadratic); now well under a second or so."""
    text = [chr(0x4E00 + i) for i in range(20_000)] + [chr(0x10000 + i) for i in range(80_000)]
    start = time.perf_counter()
    vocab = Vocab([text])
    assert time.perf_counter() - start < 10 and len(vocab) == 100_001


def test_a_corpus_over_the_limit_is_one_line(tmp_path, capsys, monkeypatch):
    from rnnlm.data import corpus

    monkeypatch.setattr(corpus, "MAX_CORPUS_BYTES", 1000)
    (tmp_path / "big.txt").write_text("a" * 1001)
    assert "rnnlm reads at most 1000" in one_error(capsys, "train", "--corpus", tmp_path / "big.txt")


# ---- compression containers ---------------------------------------------------------------------


def good_settings():
    return {"mode": "online", "segments": 1, "backend": "torch", "online": {}, "vocab": "ab"}


def test_the_containers_checksum_covers_its_header(tmp_path, capsys):
    data = bytearray(container.pack(0, 3, 3, good_settings(), [1, 2, 3], version=4))
    data[13:21] = struct.pack("<Q", 100 * 10**9)  # the probe's 100 GB claim
    (tmp_path / "x.rz").write_bytes(bytes(data))
    assert "checksum mismatch" in one_error(capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out")
    data = bytearray(container.pack(0, 3, 3, good_settings(), [1, 2, 3]))
    assert data[8] == 5 and data[14] == 3  # version 5: flags at 13, the length in characters at 14
    data[14] = 2
    (tmp_path / "x.rz").write_bytes(bytes(data))
    assert "checksum mismatch" in one_error(capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out")


@pytest.mark.parametrize(
    "header",
    [
        b"\x05\0\0\0\0",  # no flags: cut short
        b"\x05\0\0\0\0\x08",  # a flag that does not exist
        b"\x05\0\0\0\0\x07",  # a preset that does not exist
        b"\x05\0\0\0\0\x01\x80",  # a length cut short
        b"\x05\0\0\0\0\x01\x80\x00\x00\x00",  # a length spelled overlong
        b"\x05\0\0\0\0\x01" + b"\xff" * 9 + b"\x01",  # a length of more than 9 bytes
        b"\x05\0\0\0\0\x01\x03\xff\xff\x03",  # settings longer than the file
    ],
)
def test_a_version_5_header_that_does_not_add_up_is_one_line(header, tmp_path, capsys):
    (tmp_path / "x.rz").write_bytes(container.MAGIC + header)
    assert "truncated or corrupt" in one_error(capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out")


@pytest.mark.parametrize(
    "block",
    [
        b"\x03",  # an unknown vocabulary kind
        b"\x01\x61\x00\x00",  # a bitmap of no bytes
        b"\x01\x61\x01\x00\x00",  # a bitmap that does not start at its lowest code point
        b"\x01" + bytes([0x80, 0x80, 0x44]) + b"\x01\x01\x00",  # a bitmap past the last code point
        b"\x02\x05ab",  # text cut short
        b"\x02\x02\xff\xfe\x00",  # text that is not UTF-8
        b"\x00\x05\x01\x00",  # checksums cut short
        b"\x00\x00garbage",  # settings that are not deflated
    ],
)
def test_a_version_5_settings_block_that_does_not_read_is_one_line(block, tmp_path, capsys):
    (tmp_path / "x.rz").write_bytes(container.assemble(0, 3, 3, (0, block), bytes(4)))
    assert "unreadable settings" in one_error(capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out")


def test_a_version_1_container_is_refused_in_one_line(tmp_path, capsys):
    data = bytearray(container.pack(0, 3, 3, good_settings(), [1]))
    data[8] = 1
    (tmp_path / "v1.rz").write_bytes(bytes(data))
    assert "format version 1" in one_error(capsys, "decompress", tmp_path / "v1.rz", "-o", tmp_path / "out")


def test_claimed_lengths_beyond_the_limit_are_refused_before_allocating(tmp_path, capsys):
    n = container.MAX_ORIGINAL_BYTES + 1
    (tmp_path / "x.rz").write_bytes(container.pack(0, n, n, good_settings(), [1]))
    assert f"rnnlm codes at most {container.MAX_ORIGINAL_BYTES}" in one_error(
        capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out"
    )


def test_a_settings_bomb_and_deep_settings_are_one_line(tmp_path, capsys):
    data = container.pack(0, 1, 1, good_settings(), [1])
    bomb = zlib.compress(b"[" * (64 << 20), 9)
    header = container._FIXED.pack(container.MAGIC, 4, 0, 1, 1, len(bomb), 0)[: container._CHECKED]
    body = bomb + data[-4:]
    (tmp_path / "bomb.rz").write_bytes(header + struct.pack("<I", container._crc(header, body)) + body)
    assert "unreadable settings" in one_error(capsys, "decompress", tmp_path / "bomb.rz", "-o", tmp_path / "o")
    deep = json.dumps(good_settings())[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    packed = zlib.compress(deep.encode())
    header = container._FIXED.pack(container.MAGIC, 4, 0, 1, 1, len(packed), 0)[: container._CHECKED]
    body = packed + data[-4:]
    (tmp_path / "deep.rz").write_bytes(header + struct.pack("<I", container._crc(header, body)) + body)
    assert "deeper than" in one_error(capsys, "decompress", tmp_path / "deep.rz", "-o", tmp_path / "o")
    # version 5: the same, raw deflate after an empty vocabulary and no checksums
    raw_bomb = zlib.compress(b"[" * (64 << 20), 9)[2:-4]  # zlib's header and Adler-32 off: raw deflate
    for stream, fragment in ((raw_bomb, "unreadable settings"), (packed[2:-4], "deeper than")):
        forged = container.assemble(0, 1, 1, (0, b"\x00\x00" + stream), bytes(4))
        (tmp_path / "x5.rz").write_bytes(forged)
        assert fragment in one_error(capsys, "decompress", tmp_path / "x5.rz", "-o", tmp_path / "o")


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"num_hiddens": 8192}, "at most 1024"),
        ({"num_layers": 16, "num_hiddens": 2048}, "at most 1024"),
        ({"replay": 10**9}, "replay must be at most"),
        ({"lr": "0.01"}, "lr must be a positive number"),
        ({"chunk": 0}, "chunk must be a positive integer"),
    ],
)
def test_online_settings_claiming_huge_models_are_refused(change, fragment, tmp_path, capsys):
    pytest.importorskip("constriction")
    from rnnlm.backend import load_backend
    from rnnlm.compression import coder as coding

    backend = load_backend("torch")
    ocfg = coding.OnlineConfig()
    online = {**{f: getattr(ocfg, f) for f in ocfg.__dataclass_fields__}, **change}
    settings = {
        "mode": "online",
        "segments": 1,
        **coding.environment(backend),
        "platform": coding.platform_tag(),
        "online": online,
        "vocab": "ab",
    }
    (tmp_path / "x.rz").write_bytes(container.pack(zlib.crc32(b"ab"), 2, 2, settings, [1, 2]))
    line = one_error(capsys, "decompress", tmp_path / "x.rz", "-o", tmp_path / "out")
    assert "out of range" in line and fragment in line


# ---- writers ------------------------------------------------------------------------------------


def tiny_train(*extra):
    return [
        sys.executable,
        "-m",
        "rnnlm",
        "train",
        "--epochs",
        "1",
        "--num-hiddens",
        "4",
        "--max-tokens",
        "2000",
        "--batch-size",
        "4",
        "--num-steps",
        "5",
        "--quiet",
        *extra,
    ]


def test_dev_null_and_stdout_are_written_through_never_replaced(tmp_path, any_backend):
    before = os.lstat("/dev/null")
    proc = subprocess.run(
        tiny_train("--backend", any_backend, "--save", "/dev/null", "--metrics-json", "/dev/stdout"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert os.path.islink("/dev/stdout")
    assert json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])["epochs"] == 1


def test_a_symlinked_output_keeps_its_link(tmp_path, any_backend):
    (tmp_path / "real.npz").write_bytes(b"old")
    os.symlink("real.npz", tmp_path / "link.npz")
    proc = subprocess.run(
        tiny_train("--backend", any_backend, "--save", str(tmp_path / "link.npz"), "--overwrite"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert os.path.islink(tmp_path / "link.npz") and (tmp_path / "real.npz").read_bytes()[:2] == b"PK"


def test_a_read_only_target_is_refused_and_kept(tmp_path, capsys):
    target = tmp_path / "ro.npz"
    target.write_bytes(b"old")
    target.chmod(0o444)
    assert "read-only" in one_error(capsys, "train", "--epochs", "1", "--save", target)
    assert target.read_bytes() == b"old" and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_a_full_disk_is_one_line_and_nothing_else(tmp_path, any_backend):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    proc = subprocess.run(
        tiny_train("--backend", any_backend, "--save", "/dev/full"), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: cannot write checkpoint '/dev/full': No space left on device"]


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path):
    from rnnlm.io.outputs import atomic_write

    target = tmp_path / "keep.npz"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["keep.npz"]


def test_usage_error_is_what_readers_raise():
    with pytest.raises(UsageError):
        mxnet_native.parse_params(b"\x12\x01" + b"\0" * 6, "short")
