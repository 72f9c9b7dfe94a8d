"""`rnnlm compress` / `rnnlm decompress`: round trips with both backends and both modes, the
coded size against the ideal, and every way a decode must refuse (one `error:` line, exit 2)."""

import zlib

import numpy as np
import pytest

from rnnlm.compression import container
from rnnlm.cli.main import main
from tests.support.commands import tiny_checkpoint
from tests.support.extras import needs_coder
from rnnlm.config import ModelConfig
from rnnlm.data.corpus import preprocess_lines, read_raw_text
from rnnlm.model.weights import init_weights

pytestmark = needs_coder

ONLINE = ["--online", "--model", "gru", "--num-hiddens", "16", "--mix", "both"]  # the RNN runs (auto may not)
TEXTS = {
    "empty": b"",
    "one char": b"a",
    "outside the vocabulary": "The Time-Traveller, 1895: ¿qué? «Ünïcödé» №42\n".encode(),
    "non-BMP": "time 🕰 traveller 𝔗𝔦𝔪𝔢 😀😀 a\U0010ffff".encode(),
    "CRLF": b"the time machine\r\nby h g wells\r\n\r\nthe time traveller\r\n",
    "not UTF-8": b"time \xff\xfe traveller \xc3( \xed\xa0\x80 end",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "ck.npz")


def mode_args(mode, checkpoint):
    return ["--checkpoint", checkpoint] if mode == "checkpoint" else []


def compress_args(mode, checkpoint):
    return ["--checkpoint", checkpoint] if mode == "checkpoint" else ONLINE


def round_trip(tmp_path, data, backend, mode, checkpoint, extra=()):
    src, packed, out = tmp_path / "in.txt", tmp_path / "in.rz", tmp_path / "out.txt"
    src.write_bytes(data)
    assert (
        main(
            [
                "compress",
                str(src),
                "-o",
                str(packed),
                "--backend",
                backend.NAME,
                *compress_args(mode, checkpoint),
                *extra,
            ]
        )
        == 0
    )
    assert main(["decompress", str(packed), "-o", str(out), *mode_args(mode, checkpoint)]) == 0
    assert out.read_bytes() == data
    return packed.read_bytes()


@pytest.mark.parametrize("mode", ["checkpoint", "online"])
@pytest.mark.parametrize("name", list(TEXTS))
def test_round_trip(backend, mode, name, checkpoint, tmp_path, capsys):
    round_trip(tmp_path, TEXTS[name], backend, mode, checkpoint)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "bits/char, ideal" in out[0] and "bits/char, ideal" in out[1]


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("mode", ["checkpoint", "online"])
def test_short_last_segment_and_one_segment(backend, mode, checkpoint, tmp_path):
    data = b"the time machine by h g wells " * 7 + b"tail"
    for segments in ("1", "5", "64"):
        round_trip(tmp_path, data, backend, mode, checkpoint, ["--segments", segments])


def test_online_replay_round_trip(backend):
    """Replay steps (windows of the coded history) run once the history is long enough."""
    from rnnlm.compression import coder
    from rnnlm.compression.config import OnlineConfig
    from rnnlm.compression.predictor import online_factory

    ocfg = OnlineConfig(cell="gru", num_hiddens=16, replay=2, replay_batch=4, replay_len=8, chunk=4)
    text = "".join(preprocess_lines(read_raw_text()))[:600] + "Ü!"
    vocab = coder.online_vocab(text)
    factory = online_factory(backend, ocfg.model_config(len(vocab)), ocfg, backend.num_threads())
    words, bits = coder.encode(text, vocab, factory, 4)
    assert coder.decode(words, len(text), vocab, factory, 4) == (text, bits)


def _ideal_and_payload(line):
    bits = float(line.split(" bits/char, ideal ")[1].split(" ")[0])
    return bits


def test_size_against_ideal(backend, checkpoint, tmp_path, capsys):
    text = "".join(preprocess_lines(read_raw_text()))[:6000]
    packed = round_trip(tmp_path, text.encode(), backend, "checkpoint", checkpoint)
    ideal_bits = _ideal_and_payload(capsys.readouterr().out.splitlines()[0]) * len(text)
    _, n_bytes, n_chars, settings, words = container.unpack(packed, "x")
    payload_bits = 32 * len(words)
    assert payload_bits <= ideal_bits * 1.005 + 64
    # the payload is whole words less at most 3 trailing zero bytes
    assert 0 <= 4 * len(words) - (len(packed) - container.header_size(settings, n_bytes, n_chars)) <= 3


# ---- refusals: one error line, exit 2, nothing written -----------------------------------


@pytest.fixture
def packed_file(checkpoint, tmp_path):
    src, packed = tmp_path / "in.txt", tmp_path / "in.rz"
    src.write_bytes(b"the time traveller, 1895\n" * 4)
    assert main(["compress", str(src), "-o", str(packed), "--backend", "torch", "--checkpoint", checkpoint]) == 0
    return packed


def expect_error(capsys, argv, *fragments):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err[0], err[0]


def decompress_fails(capsys, packed, out, checkpoint, *fragments, extra=()):
    expect_error(capsys, ["decompress", str(packed), "-o", str(out), "--checkpoint", checkpoint, *extra], *fragments)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


def rewrite(packed, edit):
    crc, n_bytes, n_chars, settings, words = container.unpack(packed.read_bytes(), "x")
    crc, n_bytes, n_chars, settings, words = edit(crc, n_bytes, n_chars, settings, words)
    packed.write_bytes(container.pack(crc, n_bytes, n_chars, settings, words))


def test_another_checkpoint_is_refused(packed_file, tmp_path, capsys):
    pytest.importorskip("torch")
    other = tiny_checkpoint(tmp_path / "other.npz", seed=1)
    decompress_fails(capsys, packed_file, tmp_path / "out", other, "another checkpoint")


@pytest.mark.parametrize("damage", ["truncated", "altered", "not ours", "empty", "header only"])
def test_damaged_files_are_refused(damage, packed_file, checkpoint, tmp_path, capsys):
    pytest.importorskip("torch")
    data = packed_file.read_bytes()
    damaged = {
        "truncated": data[:-5],
        "altered": data[:-9] + bytes([data[-9] ^ 0x10]) + data[-8:],
        "not ours": b"PK\x03\x04 hello",
        "empty": b"",
        "header only": data[:20],
    }[damage]
    packed_file.write_bytes(damaged)
    decompress_fails(capsys, packed_file, tmp_path / "out", checkpoint, str(packed_file))


def test_a_wrong_decode_leaves_no_file(packed_file, checkpoint, tmp_path, capsys):
    pytest.importorskip("torch")
    rewrite(packed_file, lambda c, b, n, s, w: (c, b, n, s, np.concatenate([w[:1] ^ 1, w[1:]])))
    decompress_fails(capsys, packed_file, tmp_path / "out", checkpoint, "CRC32")


def test_mismatched_settings_are_refused(packed_file, checkpoint, tmp_path, capsys):
    pytest.importorskip("torch")
    threads = container.unpack(packed_file.read_bytes(), "x")[3]["threads"]
    from rnnlm.threads import MAX_THREADS

    for bad in (0, MAX_THREADS + 1, "2", 2.0, None):
        rewrite(packed_file, lambda c, b, n, s, w: (c, b, n, {**s, "threads": bad}, w))
        decompress_fails(capsys, packed_file, tmp_path / "out", checkpoint, "bad thread count")
    rewrite(packed_file, lambda c, b, n, s, w: (c, b, n, {**s, "threads": threads, "framework": "0.1"}, w))
    decompress_fails(capsys, packed_file, tmp_path / "out", checkpoint, "torch 0.1")
    decompress_fails(capsys, packed_file, tmp_path / "out", checkpoint, "--backend torch", extra=["--backend", "mxnet"])


def test_the_decoder_computes_with_the_files_thread_count(tmp_path, capsys):
    """The count is a setting the file carries, not a property of the decoding machine: a file
    coded with 3 threads decodes with 3, and one with the default count with that."""
    torch = pytest.importorskip("torch")
    from rnnlm.threads import MAX_THREADS, ONLINE_CODING_THREADS

    src, packed, out = tmp_path / "in.txt", tmp_path / "in.rz", tmp_path / "out.txt"
    src.write_bytes(read_raw_text()[:600].encode())
    for threads in ("3", None):
        extra = ["--threads", threads] if threads else []
        assert main(["compress", str(src), "-o", str(packed), "--backend", "torch", *ONLINE, *extra]) == 0
        recorded = container.unpack(packed.read_bytes(), "x")[3]["threads"]
        assert recorded == (int(threads) if threads else ONLINE_CODING_THREADS)
        torch.set_num_threads(2 if recorded == 1 else 1)
        assert main(["decompress", str(packed), "-o", str(out)]) == 0
        assert torch.get_num_threads() == recorded and out.read_bytes() == src.read_bytes()
    for bad in ("0", str(MAX_THREADS + 1)):
        expect_error(
            capsys,
            ["compress", str(src), "-o", str(packed), *ONLINE, "--threads", bad],
            f"--threads must be from 1 to {MAX_THREADS}",
        )


def test_mode_and_checkpoint_must_agree(packed_file, tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    expect_error(capsys, ["decompress", str(packed_file), "-o", str(out)], "--checkpoint")
    src, online = tmp_path / "in.txt", tmp_path / "online.rz"
    src.write_bytes(b"abc")
    assert main(["compress", str(src), "-o", str(online), "--backend", "torch", *ONLINE]) == 0
    decompress_fails(capsys, online, out, str(tmp_path / "whatever.npz"), "drop --checkpoint")


def test_paths_are_checked_before_coding(checkpoint, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_bytes(b"abc")
    expect_error(
        capsys, ["compress", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--online"], "does not exist"
    )
    expect_error(
        capsys, ["compress", str(src), "-o", str(tmp_path / "no" / "o"), "--online"], "folder", "does not exist"
    )
    expect_error(capsys, ["compress", str(src), "-o", str(tmp_path), "--online"], "is a directory")
    expect_error(capsys, ["compress", str(src), "-o", str(src), "--online"], "is the input")
    expect_error(capsys, ["compress", str(src), "-o", str(tmp_path / "o")], "--checkpoint", "--online")
    expect_error(
        capsys,
        ["compress", str(src), "-o", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "missing.npz")],
        "does not exist",
    )
    assert not (tmp_path / "o").exists()


def test_container_rejects_inconsistent_lengths():
    data = container.pack(zlib.crc32(b"ab"), 2, 9, {"mode": "online"}, np.zeros(2, np.uint32))
    with pytest.raises(Exception, match="inconsistent lengths"):
        container.unpack(data, "x")


# ---- the backends' coding functions ------------------------------------------------------


def test_adam_steps_agree_across_backends(backend_pair):
    """`make_optimizer(kind="adam")` is the same rule in both frameworks (float64), up to where
    epsilon goes (torch adds it to the bias-corrected sqrt(v), MXNet to the uncorrected one,
    which moves weights with near-zero gradients differently): the losses agree closely."""
    from rnnlm.backend import build_model

    cfg = ModelConfig(vocab_size=7, num_hiddens=8, cell="gru")
    w = init_weights(cfg, 3, "float64")
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 5))
    losses = []
    for b in backend_pair:
        b.set_num_threads(1)
        assert isinstance(b.framework_version(), str)
        model = build_model(b, cfg, b.resolve_device("cpu"), "float64", w)
        opt, out = b.make_optimizer(model, 0.01, "adam"), []
        for _ in range(5):
            _, loss, _ = b.train_step(model, opt, b.begin_state(model, 3), X, Y, 1.0)
            out.append(b.to_float(loss))
        losses.append(out)
    assert losses[0][-1] < losses[0][0] - 0.1  # it learns
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-3)


# ---- the whole book ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["checkpoint", "online"])
def test_whole_book_round_trip(backend, mode, tmp_path):
    data = read_raw_text().encode()
    ck = tiny_checkpoint(tmp_path / "ck.npz", hiddens=32)
    extra = ["--segments", "64"] if mode == "online" else []
    round_trip(tmp_path, data, backend, mode, ck, extra)
