"""The models the mixed coder added in its second round, each on its own: the match model, SSE,
the context model's update exclusion and discounts, the learned final mixer, and the mix as a
whole staying below each of its inputs on real text."""

from dataclasses import replace

import numpy as np
import pytest

from rnnlm.compression import coder as compress
from rnnlm.compression import container
from rnnlm.errors import UsageError
from rnnlm.compression.context_model import ContextConfig, ContextModel
from rnnlm.compression.match_model import PROB_BITS, MatchConfig, MatchModel
from rnnlm.compression.mixed import MixedModel, MixSettings, simulate
from rnnlm.compression.sse import ONE, SSE
from rnnlm.data.corpus import read_raw_text
from tests.support.extras import needs_coder


def top_probability(p, symbol):
    return p[symbol] / p.sum()


# ---- the match model -------------------------------------------------------------------------


def run_match(ids, config=MatchConfig(min_len=4)):
    """Feed (rows, n) ids through a match model; each step's (distribution, predicted symbol)."""
    rows, n = ids.shape
    model, out = MatchModel(int(ids.max()) + 1, rows, config), []
    for t in range(n):
        out.append((model.predict(), model.predicted()))
        model.update(ids[:, t])
    return out


def test_a_match_predicts_the_repeated_symbol_after_a_long_repeat():
    rng = np.random.default_rng(0)
    once = rng.integers(0, 30, 400)
    ids = np.concatenate([once, once])[None]
    steps = run_match(ids)
    # first pass: random text has no earlier occurrence of 4 symbols to match (almost never)
    assert sum(g[0] >= 0 for _, g in steps[:400]) < 10
    second = steps[400 + 8 :]
    assert all(g[0] == ids[0, 400 + 8 + i] for i, (_, g) in enumerate(second))
    p, _ = steps[-1]
    assert top_probability(p[0], ids[0, -1]) > 0.95


def test_a_match_found_in_another_row_and_dropped_on_a_miss():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 30, 200)
    b = a.copy()
    b[150] = (a[150] + 1) % 30  # row 1 repeats row 0 with one change
    ids = np.stack([a, np.concatenate([rng.integers(0, 30, 50), b[:150]])])
    model = MatchModel(30, 2, MatchConfig(min_len=4))
    for t in range(200):
        model.update(ids[:, t])
    # row 1 has followed row 0's text for 150 symbols: its match points at a[150]
    assert model.predicted()[1] == a[150] != b[150] and model.length[1] > 100
    model.update(np.array([0, b[150]]))  # the miss: the match is dropped
    assert model.length[1] == 0


def test_a_match_model_without_a_match_is_uniform_so_the_mixer_ignores_it():
    model = MatchModel(10, 3, MatchConfig(min_len=4))
    p = model.predict()
    assert (p == (1 << PROB_BITS) // 10).all()


def test_match_distributions_are_integers_that_sum_to_about_the_total():
    text = read_raw_text()[:4000]
    vocab = compress.online_vocab(text)
    ids = compress.char_ids(text, vocab).reshape(4, 1000)
    for p, _ in run_match(ids, MatchConfig())[::50]:
        assert p.dtype == np.int64 and p.min() >= 1
        assert (abs(p.sum(axis=1) - (1 << PROB_BITS)) <= 2 * len(vocab)).all()


# ---- SSE -------------------------------------------------------------------------------------


def test_sse_moves_the_top_probability_toward_what_happens():
    """The mix keeps saying 50% for symbol 0; in context 0 it always comes, in context 1 never."""
    sse = SSE(2)
    p = np.tile(np.array([[1000, 500, 500]], dtype=np.int64), (2, 1))
    first = sse.refine(p, np.array([0, 1]))
    for _ in range(400):
        sse.refine(p, np.array([0, 1]))
        sse.update(np.array([0, 2]), 2)
    last = sse.refine(p, np.array([0, 1]))
    assert abs(top_probability(first[0], 0) - 0.5) < 0.02 and abs(top_probability(first[1], 0) - 0.5) < 0.02
    assert top_probability(last[0], 0) > 0.85 > 0.15 > top_probability(last[1], 0)
    # the others keep their proportions of what is left
    assert abs(last[1, 1] - last[1, 2]) <= 1


def test_sse_tables_stay_probabilities():
    rng = np.random.default_rng(2)
    sse = SSE(5)
    for _ in range(300):
        p = rng.integers(1, 1 << 24, (8, 6))
        sse.refine(p, rng.integers(0, 5, 8))
        sse.update(rng.integers(0, 6, 8), 8)
    assert sse.table.min() >= 1 and sse.table.max() < ONE


# ---- the context model -----------------------------------------------------------------------


def test_update_exclusion_leaves_lower_orders_alone_when_a_higher_one_knew_the_symbol():
    ids = np.array([[1, 2, 1, 2, 1, 2]])
    counts = {}
    for exclusion in (0, 1):
        model = ContextModel(3, 1, ContextConfig(max_order=1, exclusion=exclusion))
        prev = 0
        for x in ids[0]:
            model.predict(np.array([prev]))
            model.update(np.array([x]))
            prev = x
        counts[exclusion] = model.counts[0].copy()  # order 0
    assert counts[0][1] == 3 and counts[0][2] == 3
    # with exclusion, order 0 learns a symbol only while order 1's context had not seen it
    assert counts[1][1] + counts[1][2] < 6


def test_count_dependent_discounts_keep_distributions_summing_to_the_total():
    text = read_raw_text()[:3000]
    vocab = compress.online_vocab(text)
    ids = compress.char_ids(text, vocab).reshape(3, 1000)
    model = ContextModel(len(vocab), 3, ContextConfig(discount=10, discount2=18, discount3=24))
    prev = np.zeros(3, dtype=np.int64)
    for t in range(1000):
        levels, _, _ = model.predict(prev)
        model.update(ids[:, t])
        prev = ids[:, t]
    sums = levels.sum(axis=2)
    total = 1 << 16
    assert (sums <= total + len(vocab)).all() and (sums >= total - 2 * len(vocab)).all(), sums


# ---- the mix as a whole ----------------------------------------------------------------------


def weak_rnn(ids, V, rng):
    """A stand-in RNN that knows each character's frequency and a bit about the true one."""
    freq = np.bincount(ids, minlength=V) + 1.0
    p = np.tile(freq / freq.sum(), (len(ids), 1))
    p[np.arange(len(ids)), ids] += 0.1 * rng.random(len(ids))
    return np.floor(p / p.sum(axis=1, keepdims=True) * (1 << 24)).astype(np.int64)


def test_the_mix_codes_below_each_of_its_inputs_alone():
    text = read_raw_text()[:6000]
    vocab = compress.online_vocab(text)
    ids = compress.char_ids(text, vocab)
    rnn = weak_rnn(ids, len(vocab), np.random.default_rng(3))
    rows, length = compress.layout(len(ids), 4)
    report, n = simulate(ids, rnn, rows, length, MixSettings())
    alone = {k: v for k, v in report.items() if k != "mix"}
    assert {"rnn alone", "match model", "orders 0-6"} <= set(alone)
    assert report["mix"] < min(alone.values()), report


@pytest.mark.parametrize("lever", ["match", "sse", "sse order", "final", "third mixer", "exclusion", "lr boost"])
def test_each_lever_switched_changes_the_bits(lever):
    """Every lever is on the coded path: switching one gives other probabilities."""
    off = {
        "match": lambda s: replace(s, match=replace(s.match, min_len=0)),
        "sse": lambda s: replace(s, sse=replace(s.sse, rate=0)),
        "sse order": lambda s: replace(s, sse=replace(s.sse, order=1)),
        "final": lambda s: replace(s, mixer=replace(s.mixer, final_lr=0)),
        "third mixer": lambda s: replace(s, mixer=replace(s.mixer, third=0)),
        "exclusion": lambda s: replace(s, context=replace(s.context, exclusion=0)),
        "lr boost": lambda s: replace(s, mixer=replace(s.mixer, lr_boost=0)),
    }[lever]
    text = read_raw_text()[:2000]
    vocab = compress.online_vocab(text)
    ids = compress.char_ids(text, vocab).reshape(2, 1000)
    runs = []
    for settings in (MixSettings(rnn=False), off(MixSettings(rnn=False))):
        model, prev, out = MixedModel(len(vocab), 2, settings), np.zeros(2, dtype=np.int64), []
        for t in range(1000):
            out.append(model.probs_int(prev))
            model.update(ids[:, t], 2)
            prev = ids[:, t]
        runs.append(np.stack(out))
    assert not np.array_equal(runs[0], runs[1])


def test_a_version_2_container_is_refused_in_one_line():
    data = bytearray(container.pack(0, 3, 3, {"mode": "online"}, [1]))
    data[8] = 2
    with pytest.raises(UsageError, match="format version 2; this rnnlm reads versions 3, 4 and 5"):
        container.unpack(bytes(data), "old.rz")


def test_settings_of_the_first_mixed_format_are_refused():
    old = MixSettings().to_dict()
    del old["match"], old["sse"]
    with pytest.raises(ValueError):
        MixSettings.from_dict(old)
    assert MixSettings.from_dict(MixSettings().to_dict()) == MixSettings()


@needs_coder
def test_the_settings_header_is_deflated_against_its_dictionary(tmp_path):
    """The usual settings cost well under a quarter of what plain zlib makes of them (version 5
    writes only what differs from its preset, raw deflate against version 4's dictionary, so a
    decoder without it cannot read them); version 4's and 3's streams, still read, name their
    preset dictionaries (zlib's FDICT flag and the dictionary's Adler-32)."""
    import json
    import struct
    import zlib
    from rnnlm.cli.main import main

    source, coded = tmp_path / "t.txt", tmp_path / "t.rz"
    source.write_text("the time traveller smiled. " * 8)
    argv = ["compress", str(source), "-o", str(coded), "--online", "--quiet", "--num-hiddens", "8", "--mix", "both"]
    assert main(argv) in (0, None)
    data = coded.read_bytes()
    crc, n_bytes, n_chars, settings, words = container.unpack(data, "t.rz")
    raw = json.dumps(settings, separators=(",", ":"), sort_keys=True).encode()
    assert container.header_size(settings, n_bytes, n_chars) < len(zlib.compress(raw, 9)) / 4
    _, block = container.settings_block(settings)
    rest = block[len(container.fields.put_vocab(settings["vocab"]) + container.fields.put_checks(settings["checks"])) :]
    unpacker = zlib.decompressobj(-15, zdict=container.SETTINGS_DICTIONARY_4)
    assert json.loads(unpacker.decompress(rest))["online"] == {"num_hiddens": 8}
    with pytest.raises(zlib.error):
        zlib.decompressobj(-15).decompress(rest)  # without the dictionary: unreadable
    for version, dictionary in ((4, container.SETTINGS_DICTIONARY_4), (3, container.SETTINGS_DICTIONARY)):
        blob = container.pack(crc, n_bytes, n_chars, settings, words, version=version)
        stream = blob[37 : 37 + struct.unpack_from("<I", blob, 29)[0]]
        assert stream[1] & 0x20  # FDICT
        assert struct.unpack(">I", stream[2:6])[0] == zlib.adler32(dictionary)
        with pytest.raises(zlib.error):
            zlib.decompressobj().decompress(stream)  # without the dictionary: unreadable
