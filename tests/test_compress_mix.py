"""The mixed coder: the context model and mixer on their own (exact integers, determinism,
what an order-N context buys), round trips of `--mix both|rnn|context` on each training
backend, and a decoder that diverges stopping at the first checksum with one `error:` line."""

import numpy as np
import pytest

from rnnlm.compression import container
from rnnlm.compression import coder as compress
from rnnlm.compression.checksums import CHECK_EVERY
from rnnlm.cli.main import main
from rnnlm.compression import fixed_point
from rnnlm.compression.context_model import PROB_BITS, ContextConfig, ContextModel
from rnnlm.compression.mixed import MixedModel
from rnnlm.compression.mixer import Mixer, quantize_model_probs
from rnnlm.data.corpus import read_raw_text

from tests.test_compress import TEXTS, expect_error
from tests.support.extras import needs_coder

pytestmark = needs_coder

TINY_ONLINE = ["--online", "--model", "gru", "--num-hiddens", "8"]
BINARY = bytes(range(256)) * 2 + b"\x00\x00\xff"


def run_levels(ids, rows=1, config=ContextConfig(), int_keys=True):
    """Feed `ids` (rows, n) through a context model; the levels predicted at every step."""
    model = ContextModel(int(ids.max()) + 1, rows, config)
    model.int_keys = model.int_keys and int_keys
    if not model.int_keys:
        model.index = {b"": 0}
    out, prev = [], np.zeros(rows, dtype=np.int64)
    for t in range(ids.shape[1]):
        levels, _, _ = model.predict(prev)
        out.append(levels)
        model.update(ids[:, t])
        prev = ids[:, t]
    return out


# ---- the integer arithmetic ----------------------------------------------------------------


def test_fixed_point_tables_track_the_real_functions():
    x = np.array([1, 2, 3, 7, 1000, 123456, (1 << 24) - 1, 1 << 40])
    np.testing.assert_allclose(fixed_point.log2_fixed(x) / (1 << fixed_point.FRAC_BITS), np.log2(x), atol=4e-4)
    y = np.arange(0, 40 << fixed_point.FRAC_BITS, 977)
    got = fixed_point.exp2_neg_fixed(y) / float(1 << fixed_point.EXP_BITS)
    np.testing.assert_allclose(got, 2.0 ** (-y / (1 << fixed_point.FRAC_BITS)), rtol=1e-3, atol=2e-7)
    log_table, exp_table = fixed_point.tables()
    assert (np.diff(log_table) >= 0).all() and (np.diff(exp_table) <= 0).all()


def test_the_shipped_tables_are_the_computed_ones(tmp_path, monkeypatch):
    """The tables file beside the module is what `decimal` computes; a damaged one is not used."""
    shipped, computed = fixed_point.tables(), fixed_point.computed_tables()
    assert all(np.array_equal(a, b) and a.dtype == np.int64 for a, b in zip(shipped, computed))
    damaged = tmp_path / "t.npz"
    np.savez(damaged, log=computed[0] + 1, exp=computed[1])
    monkeypatch.setattr(fixed_point, "TABLES_FILE", str(damaged))
    fixed_point.tables.cache_clear()
    try:
        assert all(np.array_equal(a, b) for a, b in zip(fixed_point.tables(), computed))
    finally:
        fixed_point.tables.cache_clear()


def test_log2_is_frexps_bucket_read_from_the_bits():
    """log2_fixed reads exponent and mantissa bucket from the float64's bits: the same integers
    as frexp's m and e, on every positive integer below 2**53."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.arange(1, 1 << 16), rng.integers(1, 1 << 53, 1 << 16), 2 ** np.arange(53)])
    m, e = np.frexp(x.astype(np.float64))
    bucket = (m * (1 << (fixed_point.FRAC_BITS + 1))).astype(np.int64) - (1 << fixed_point.FRAC_BITS)
    expected = (e.astype(np.int64) - 1 << fixed_point.FRAC_BITS) + fixed_point.tables()[0][bucket]
    np.testing.assert_array_equal(fixed_point.log2_fixed(x), expected)


def test_integer_contexts_are_the_bytes_contexts():
    """Contexts as integers (where they fit in 62 bits) find the same slots as the symbols'
    bytes (what a model too large for them still uses): the same levels at every step."""
    text = read_raw_text()[:4000]
    ids = compress.char_ids(text, compress.online_vocab(text)).reshape(4, 1000)
    fast, exact = (run_levels(ids, rows=4, int_keys=k) for k in (True, False))
    assert len(fast) == len(exact) and all(np.array_equal(a, b) for a, b in zip(fast, exact))
    big = ContextModel(1024, 2, ContextConfig(max_order=16))
    assert not big.int_keys and big.index == {b"": 0}  # 1025**17 is past 2**62: bytes


def test_levels_are_distributions_out_of_the_coders_total():
    text = read_raw_text()[:3000]
    vocab = compress.online_vocab(text)
    ids = compress.char_ids(text, vocab).reshape(3, 1000)
    total, V = 1 << PROB_BITS, len(vocab)
    for levels in run_levels(ids, rows=3)[::97]:
        assert levels.dtype == np.int64 and levels.min() >= 1
        sums = levels.sum(axis=2)
        assert (sums <= total + V).all() and (sums >= total - 2 * V).all(), sums


def test_an_order_n_model_predicts_a_repeat_better_than_order_0():
    phrase = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7], dtype=np.int64)
    ids = np.tile(phrase, 6)[None]
    levels = run_levels(ids)
    late = range(4 * len(phrase), ids.shape[1])
    p = lambda k, t: levels[t][k, 0, ids[0, t]] / levels[t][k, 0].sum()  # noqa: E731
    for t in late:
        assert p(6, t) > 0.5 > p(0, t), (t, p(6, t), p(0, t))


def test_same_inputs_give_the_same_bits():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 20, (4, 300))
    rnn = rng.dirichlet(np.ones(20), size=(300, 4))
    runs = []
    for _ in range(2):
        model, prev, out = MixedModel(20, 4), np.zeros(4, dtype=np.int64), []
        for t in range(300):
            out.append(model.probs(prev, rnn[t]))
            model.update(ids[:, t], 4)
            prev = ids[:, t]
        runs.append(np.stack(out))
    assert runs[0].tobytes() == runs[1].tobytes()
    np.testing.assert_allclose(runs[0].sum(axis=2), 1.0, rtol=1e-12)


def test_the_mixer_learns_to_trust_the_input_that_is_right():
    rng = np.random.default_rng(0)
    V, rows, steps = 8, 4, 400
    mixer = Mixer(2, 1, rnn_input=0)
    start = mixer.weights.copy()
    for _ in range(steps):
        x = rng.integers(0, V, rows)
        good = np.full((rows, V), 1 << 10)
        good[np.arange(rows), x] = 1 << 20  # knows the answer
        bad = rng.integers(1, 1 << 20, (rows, V))  # noise
        mixer.mix(np.stack([good, bad]), np.zeros(rows, dtype=np.int64))
        mixer.update(x, rows)
    assert mixer.weights[0, 0] > start[0, 0] and mixer.weights[0, 1] < start[0, 1]


def test_quantized_model_probabilities_are_exact_floors():
    p = np.array([[0.5, 0.25, 0.25 - 1e-12, 1e-12]])
    assert quantize_model_probs(p).tolist() == [[1 << 23, 1 << 22, (1 << 22) - 1, 1]]


# ---- round trips ---------------------------------------------------------------------------


def round_trip(tmp_path, data, argv, extra_decode=()):
    src, packed, out = tmp_path / "in.bin", tmp_path / "in.rz", tmp_path / "out.bin"
    src.write_bytes(data)
    assert main(["compress", str(src), "-o", str(packed), "--quiet", *argv]) == 0
    assert main(["decompress", str(packed), "-o", str(out), "--quiet", *extra_decode]) == 0
    assert out.read_bytes() == data
    return packed


CASES = {k: TEXTS[k] for k in ("empty", "one char", "outside the vocabulary", "not UTF-8")}
CASES["binary"] = BINARY


@pytest.mark.parametrize("mix", ["both", "context"])
@pytest.mark.parametrize("name", list(CASES))
def test_online_mix_round_trip(backend, mix, name, tmp_path):
    round_trip(tmp_path, CASES[name], ["--backend", backend.NAME, *TINY_ONLINE, "--mix", mix])


@pytest.mark.parametrize("name", ["one char", "outside the vocabulary", "binary"])
def test_checkpoint_mix_round_trip(backend, name, tmp_path):
    from tests.support.commands import tiny_checkpoint as make_checkpoint

    ck = make_checkpoint(tmp_path / "ck.npz")
    packed = round_trip(tmp_path, CASES[name], ["--backend", backend.NAME, "--checkpoint", ck], ["--checkpoint", ck])
    settings = container.unpack(packed.read_bytes(), "x")[3]
    assert settings["mix"]["rnn"] is True and settings["mode"] == "checkpoint"


@pytest.mark.slow
def test_the_mix_codes_the_book_better_than_either_part(tmp_path, capsys, monkeypatch):
    """On 12,000 characters of the book (four segments, a tiny GRU): the mix's code beats the
    RNN's alone and its own context model's alone (the mix's settings: `--mix context` has
    settings of its own, tuned for short texts, which a tiny young RNN does not always beat;
    --mix auto weighs that). The payloads are compared, not the files: the header of a file that
    names no framework (the context model alone) is the smaller."""
    from rnnlm.compression import mixed

    monkeypatch.setattr(mixed, "CONTEXT_ALONE", mixed.MixSettings(rnn=False))  # the file records it
    data = read_raw_text()[:12000].encode()
    bits = {}
    for mix in ("both", "rnn", "context"):
        packed = round_trip(tmp_path, data, ["--backend", "torch", *TINY_ONLINE, "--mix", mix, "--segments", "4"])
        words = container.unpack(packed.read_bytes(), str(packed))[-1]
        bits[mix] = 32 * len(words) / len(data)
    assert bits["both"] < bits["context"] < bits["rnn"], bits


def test_context_mix_needs_online(tmp_path, capsys):
    from tests.support.commands import tiny_checkpoint as make_checkpoint

    src = tmp_path / "a.txt"
    src.write_bytes(b"abc")
    expect_error(
        capsys,
        [
            "compress",
            str(src),
            "-o",
            str(tmp_path / "o"),
            "--checkpoint",
            make_checkpoint(tmp_path / "ck.npz"),
            "--mix",
            "context",
        ],
        "--online",
    )


# ---- a decoder that diverges ---------------------------------------------------------------


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
def test_a_diverging_decoder_stops_at_the_first_checksum(tmp_path, capsys):
    """The mixer's learning rate altered in the file (CRC fixed up): the decoder computes other
    probabilities, and the first checksum, after CHECK_EVERY characters, stops it."""
    data = read_raw_text()[: 2 * CHECK_EVERY + 100].encode()
    src, packed, out = tmp_path / "in.txt", tmp_path / "in.rz", tmp_path / "out.txt"
    src.write_bytes(data)
    assert (
        main(["compress", str(src), "-o", str(packed), "--quiet", "--online", "--mix", "context", "--segments", "1"])
        == 0
    )
    crc, n_bytes, n_chars, settings, words = container.unpack(packed.read_bytes(), "x")
    assert len(settings["checks"]) == 2
    settings["mix"]["mixer"]["lr"] += 40
    packed.write_bytes(container.pack(crc, n_bytes, n_chars, settings, words))
    expect_error(
        capsys,
        ["decompress", str(packed), "-o", str(out)],
        "decodes differently",
        f"after character {CHECK_EVERY} ",
        "characters 0-2047",
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "field,value", [("checks", [70000]), ("checks", "x"), ("check_every", 3), ("mix", {"rnn": True}), ("mix", 5)]
)
def test_malformed_mix_settings_are_refused(field, value, tmp_path, capsys):
    src, packed = tmp_path / "in.txt", tmp_path / "in.rz"
    src.write_bytes(b"abcabc")
    assert main(["compress", str(src), "-o", str(packed), "--quiet", "--online", "--mix", "context"]) == 0
    crc, n_bytes, n_chars, settings, words = container.unpack(packed.read_bytes(), "x")
    settings[field] = value
    # version 5 spells checksums as 16-bit integers: the ones it cannot spell, in version 4
    version = 4 if field == "checks" else container.VERSION
    packed.write_bytes(container.pack(crc, n_bytes, n_chars, settings, words, version=version))
    expect_error(capsys, ["decompress", str(packed), "-o", str(tmp_path / "out")], "corrupt")
