"""Compression as a library: `rnnlm.compress` / `rnnlm.decompress` round trips on every training
backend in both modes, `CompressConfig` as the one place settings are checked, the thread count
a file records (what the backend really computes with, in fresh processes so the count a
framework fixes when it loads is real), and what a hostile payload may claim."""

import os
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import rnnlm
from rnnlm.backend import BACKENDS, SPECS
from rnnlm.compression import container
from rnnlm.compression.config import MIX_CHOICES, CompressConfig, OnlineConfig
from rnnlm.config import CELLS, ConfigError
from rnnlm.errors import UsageError
from rnnlm.threads import MAX_THREADS
from tests.support.backends import load_or_skip
from tests.support.commands import assert_one_line_error, run_cli, tiny_checkpoint
from tests.support.extras import needs_coder

SMALL = dict(model="gru", num_hiddens=16, mix="both")  # an --online RNN that codes a few hundred chars a second
DATA = {
    "bytes, not UTF-8": b"the time \xff\xfe traveller \xc3( \xed\xa0\x80 end\r\n",
    "str": "The Time-Traveller, 1895: ¿qué? «Ünïcödé» 🕰 𝔗𝔦𝔪𝔢\n",
    "str with escaped bytes": "the time \udcff\udcfe traveller",
    "empty": b"",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "ck.npz")


@pytest.mark.parametrize("mode", ["checkpoint", "online"])
@pytest.mark.parametrize("name", list(DATA))
@needs_coder
def test_compress_and_decompress_round_trip_exactly(backend, mode, name, checkpoint):
    data = DATA[name]
    args = {"checkpoint": checkpoint} if mode == "checkpoint" else SMALL
    blob = rnnlm.compress(data, backend=backend.NAME, **args)
    assert isinstance(blob, bytes) and blob.startswith(container.MAGIC)
    ck = checkpoint if mode == "checkpoint" else None
    as_bytes = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    assert rnnlm.decompress(blob, ck) == as_bytes  # bytes by default
    if isinstance(data, str):
        assert rnnlm.decompress(blob, ck, as_text=True) == data  # the str it was given, with as_text
    settings = container.unpack(blob, "x")[3]
    assert settings["mode"] == mode and settings["backend"] == backend.NAME


@needs_coder
def test_a_config_codes_as_its_settings_do(checkpoint):
    pytest.importorskip("torch")
    text = "the time machine by h g wells " * 5
    config = CompressConfig(
        mode="online", segments=3, mix="rnn", backend="torch", online=OnlineConfig(**{"cell": "rnn", "num_hiddens": 8})
    )
    blob = rnnlm.compress(text, config=config)
    assert blob == rnnlm.compress(text, segments=3, mix="rnn", backend="torch", model="rnn", num_hiddens=8)
    settings = container.unpack(blob, "x")[3]
    assert settings["segments"] == 3 and "mix" not in settings and settings["online"]["cell"] == "rnn"
    assert rnnlm.decompress(blob, as_text=True) == text
    with pytest.raises(UsageError, match="not both"):
        rnnlm.compress(text, config=config, segments=4)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a \ud800 b", r"lone surrogate U\+D800 at character 2"),
        ("\udcc3\udca9", "spell UTF-8"),  # the escapes of é's bytes: they would come back as é
    ],
)
def test_a_str_that_would_not_come_back_the_same_is_refused(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        rnnlm.compress(text)


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(segments=0), "--segments must be a positive integer"),
        (dict(segments=(1 << 16) + 1), "--segments must be at most 65536"),
        (dict(threads=0), f"--threads must be from 1 to {MAX_THREADS}"),
        (dict(threads=MAX_THREADS + 1), f"--threads must be from 1 to {MAX_THREADS}"),
        (dict(mix="all"), "--mix must be one of auto, both, rnn, context"),
        (dict(model="transformer"), "--model must be one of rnn, gru, lstm"),
        (dict(num_hiddens=2048), "--num-hiddens must be at most 1024 for --online"),
        (dict(backend="tensorflow2"), "unknown backend 'tensorflow2'"),
        (dict(epochs=3), "unknown setting 'epochs'"),
    ],
)
def test_every_setting_is_checked_once_where_the_config_is_built(settings, fragment):
    with pytest.raises(ConfigError if "backend" not in settings else UsageError, match=fragment):
        CompressConfig.from_options(True, **settings)


def test_the_context_model_alone_needs_online(checkpoint):
    with pytest.raises(ConfigError, match="--mix context codes with the context model alone"):
        CompressConfig(mode="checkpoint", mix="context")
    with pytest.raises(UsageError, match="give a checkpoint"):
        rnnlm.compress(b"abc", config=CompressConfig(mode="checkpoint"))


def test_the_command_line_takes_its_choices_and_defaults_from_the_config():
    from rnnlm.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["compress"]
    actions = {a.dest: a for a in sub._actions}
    assert actions["model"].choices is CELLS and actions["mix"].choices is MIX_CHOICES
    assert actions["mix"].default == CompressConfig().mix and actions["segments"].default == CompressConfig().segments
    assert actions["num_hiddens"].default == OnlineConfig().num_hiddens
    assert actions["threads"].default is None  # rnnlm.threads.coding_choice decides


# ---- the thread count a file records -----------------------------------------------------


def _fresh_env():
    """No inherited count: the count a framework fixes when it loads is the one it is handed."""
    return {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MXNET_OMP_MAX_THREADS")}


def _compress_in_a_fresh_process(name, threads, src, out):
    """(recorded count, the count the backend computes with in that process after coding)."""
    code = (
        "import sys\n"
        "from rnnlm.cli.main import main\n"
        "from rnnlm.backend import SPECS\n"
        "from rnnlm.compression import container\n"
        f"rc = main(['compress', {str(src)!r}, '-o', {str(out)!r}, '--online', '--model', 'gru', "
        f"'--num-hiddens', '8', '--mix', 'both', '--backend', {name!r}, '--threads', {str(threads)!r}, '--quiet'])\n"
        "assert rc == 0, rc\n"
        f"module = sys.modules['rnnlm.backends.' + SPECS[{name!r}].impl]\n"
        f"print(container.unpack(open({str(out)!r}, 'rb').read(), 'x')[3]['threads'], module.num_threads())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_fresh_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recorded, computed = map(int, proc.stdout.split()[-2:])
    return recorded, computed


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("name", BACKENDS)
def test_the_file_records_the_count_the_backend_computes_with(name, tmp_path):
    """Asked for 3 threads, MXNet computes with the count it loaded with and JAX with XLA's
    pool (one thread a core), whatever either is asked: the file must say what it computed
    with, not what was asked (it said what was asked before the count was handed to the
    backend as it loads)."""
    load_or_skip(name)
    threads = 3  # neither the default count nor this machine's cores
    src, out = tmp_path / "in.txt", tmp_path / "in.rz"
    src.write_bytes(b"the time machine by h g wells, the time traveller " * 4)
    recorded, computed = _compress_in_a_fresh_process(name, threads, src, out)
    assert recorded == computed
    if name != "jax":
        assert recorded == threads  # torch sets any count; MXNet loads with the one it is handed
    proc = run_cli("decompress", str(out), "-o", str(tmp_path / "back.txt"), "--quiet", env=_fresh_env())
    assert proc.returncode == 0, proc.stderr  # a fresh decoder loads the backend with the file's count
    assert (tmp_path / "back.txt").read_bytes() == src.read_bytes()


@needs_coder
def test_a_decoder_that_cannot_compute_with_the_files_count_refuses(backend):
    """In this process MXNet is loaded already (its count fixed) and JAX's pool is the cores':
    a file naming another count is refused before decoding, in one line saying why."""
    count = backend.num_threads()
    backend.set_num_threads(count + 1)
    follows = backend.num_threads() == count + 1
    backend.set_num_threads(count)
    if follows:
        pytest.skip(f"{backend.NAME} computes with any count it is asked for")
    blob = rnnlm.compress(b"the time traveller " * 8, backend=backend.NAME, threads=count, **SMALL)
    crc, n_bytes, n_chars, settings, words = container.unpack(blob, "x")
    assert settings["threads"] == count
    forged = container.pack(crc, n_bytes, n_chars, {**settings, "threads": count + 1}, words)
    with pytest.raises(UsageError) as refused:
        rnnlm.decompress(forged)
    for fragment in (
        f"computing with {count + 1} threads",
        f"computes with {count}",
        "fixed when it loads",
        "fresh process",
        "cores",
    ):
        assert fragment in str(refused.value)
    assert rnnlm.decompress(blob) == b"the time traveller " * 8


# ---- what a payload may claim (issue 28) ---------------------------------------------------


@needs_coder
def test_a_file_claiming_more_characters_than_its_payload_holds_is_refused_at_once(tmp_path):
    pytest.importorskip("torch")
    blob = rnnlm.compress(b"the time traveller " * 100, backend="torch", **SMALL)
    crc, n_bytes, n_chars, settings, words = container.unpack(blob, "x")
    words = np.resize(words, 512)  # 2 KB of payload
    claim = 16 << 20
    block = container.settings_block(settings)
    forged = container.assemble(crc, claim, claim, block, np.asarray(words, "<u4").tobytes())
    (tmp_path / "x.rz").write_bytes(forged)
    start = time.perf_counter()
    proc = run_cli("decompress", str(tmp_path / "x.rz"), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "claims 16777216 characters in 2048 bytes", "1/32 bit per character")
    assert time.perf_counter() - start < 60


@needs_coder
def test_a_payload_below_the_floor_is_padded_and_still_decodes():
    pytest.importorskip("torch")
    data = b"a" * 20000  # the context model codes it in far less than 1/32 bit a character
    blob = rnnlm.compress(data, backend="torch", mix="context")
    words = container.unpack(blob, "x")[4]
    assert len(words) == container.floor_words(len(data)) and not words[-1]  # zero words at the end
    assert rnnlm.decompress(blob) == data


@needs_coder
def test_a_file_whose_checksums_are_missing_is_refused(tmp_path, capsys):
    pytest.importorskip("torch")
    data = b"the time traveller, " * 220  # 4400 chars, one segment: 2 checksums
    blob = rnnlm.compress(data, backend="torch", segments=1, mix="context")
    crc, n_bytes, n_chars, settings, words = container.unpack(blob, "x")
    assert len(settings["checks"]) == 2
    forged = container.pack(crc, n_bytes, n_chars, {**settings, "checks": []}, words)
    with pytest.raises(UsageError, match="bad checksums"):
        rnnlm.decompress(forged)


class PanicException(BaseException):
    """As constriction's Rust panics reach Python (pyo3's PanicException is no Exception)."""


@pytest.mark.parametrize(
    "error",
    [AssertionError("decoder"), MemoryError(), IndexError(3), PanicException("attempt to subtract with overflow")],
)
@needs_coder
def test_every_failure_of_the_entropy_coder_is_one_line(error, monkeypatch, tmp_path, capsys):
    pytest.importorskip("torch")
    from rnnlm.cli.main import main
    from rnnlm.compression import entropy

    src, packed = tmp_path / "in.txt", tmp_path / "in.rz"
    src.write_bytes(b"the time traveller " * 8)
    assert (
        main(["compress", str(src), "-o", str(packed), "--online", "--backend", "torch", "--mix", "context", "--quiet"])
        == 0
    )

    def fail(self, probs):
        raise error

    monkeypatch.setattr(entropy.SymbolDecoder, "decode", fail)
    capsys.readouterr()
    assert main(["decompress", str(packed), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: '{packed}' is corrupt: it does not decode ({type(error).__name__})"]
    assert not (tmp_path / "out").exists()


def test_a_crc_of_the_header_still_guards_the_claimed_length(tmp_path):
    data = container.pack(zlib.crc32(b"ab"), 2, 2, {"mode": "online"}, [1])
    forged = data[:21] + (3).to_bytes(8, "little") + data[29:]
    with pytest.raises(UsageError, match="checksum mismatch"):
        container.unpack(forged, "x")


# ---- short texts: the better mix, chosen and recorded; a header that costs little ----------


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
def test_auto_keeps_the_smaller_of_the_mix_and_the_context_model_alone():
    pytest.importorskip("torch")
    from rnnlm.compression.config import AUTO_ALONE_CHARS, AUTO_ROW_CHARS
    from rnnlm.data.corpus import read_raw_text

    text = read_raw_text()[: AUTO_ALONE_CHARS + 800].encode()
    rows = len(text) // AUTO_ROW_CHARS  # the context model alone: rows this long or longer
    sizes = {
        "both": len(rnnlm.compress(text, backend="torch", mix="both", model="gru", num_hiddens=16)),
        "context": len(rnnlm.compress(text, mix="context", segments=rows)),
    }
    blob = rnnlm.compress(text, backend="torch", model="gru", num_hiddens=16)  # mix="auto", the default
    assert len(blob) == min(sizes.values())
    settings = container.unpack(blob, "x")[3]
    assert settings["mix"]["rnn"] is (sizes["both"] < sizes["context"])
    assert settings["segments"] == (32 if settings["mix"]["rnn"] else rows)
    assert rnnlm.decompress(blob) == text


@needs_coder
def test_auto_codes_a_short_text_with_the_context_model_alone_and_loads_no_framework(tmp_path):
    src, out = tmp_path / "in.txt", tmp_path / "in.rz"
    src.write_bytes(b"Redistribution and use in source and binary forms, with or without modification. " * 20)
    code = (
        "import sys\nfrom rnnlm.cli.main import main\n"
        f"assert main(['compress', {str(src)!r}, '-o', {str(out)!r}, '--online', '--quiet']) == 0\n"
        f"assert main(['decompress', {str(out)!r}, '-o', {str(tmp_path / 'back')!r}, '--quiet']) == 0\n"
        f"print(sorted(m for m in {sorted({m for s in SPECS.values() for m in s.needs})!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"  # no framework imported: a short start-up
    assert (tmp_path / "back").read_bytes() == src.read_bytes()
    settings = container.unpack(out.read_bytes(), "x")[3]
    assert settings["mix"]["rnn"] is False and settings["segments"] == 1


@needs_coder
def test_the_context_model_alone_records_no_framework_and_a_small_header():
    data = b"Permission is hereby granted, free of charge, to any person obtaining a copy. " * 20
    blob = rnnlm.compress(data, mix="context")
    settings = container.unpack(blob, "x")[3]
    assert not {"backend", "framework", "threads", "platform"} & set(settings)
    assert settings["vocab"] == "".join(sorted(set(data.decode())))  # code point order: cheap to write
    # version 3 wrote 150-190 bytes for short texts, version 4 67-101; version 5 writes its
    # vocabulary as a bitmap, the checksums in binary and nothing the preset holds
    assert container.header_size(settings, len(data), len(data)) < 50
    assert rnnlm.decompress(blob, backend="jax") == data  # no backend runs, so any may be named


@needs_coder
def test_a_version_3_file_is_still_read(checkpoint):
    pytest.importorskip("torch")
    data = b"the time traveller, 1895 " * 6
    for kwargs, ck in ((dict(checkpoint=checkpoint), checkpoint), (SMALL, None)):
        crc, n_bytes, n_chars, settings, words = container.unpack(rnnlm.compress(data, backend="torch", **kwargs), "x")
        old = container.pack(crc, n_bytes, n_chars, settings, words, version=3)
        assert old[8] == 3 and container.unpack(old, "x")[3] == settings
        assert rnnlm.decompress(old, ck) == data


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"mode": "online"},
        {"online": {}},
        {"mix": {"rnn": False, "x": [1]}},
        {"checks": [1, 2], "vocab": '\n "\\ab'},
        container.SETTINGS_DEFAULTS,
    ],
)
@pytest.mark.parametrize("version", [4, 5])
def test_settings_come_back_as_they_were_written(settings, version):
    packed = container.pack(0, 1, 1, settings, [1], version=version)
    assert packed[8] == version and container.unpack(packed, "x")[3] == settings


@pytest.mark.parametrize("vocab", ["", "a", '\n !"#', "zyx", "\udc80\udcff", "".join(map(chr, range(0x4E00, 0x4E80)))])
def test_a_vocabulary_comes_back_in_either_spelling(vocab):
    settings = {"mode": "online", "vocab": vocab}
    assert container.unpack(container.pack(0, 3, 3, settings, [1]), "x")[3] == settings


def test_version_5_presets_are_todays_settings():
    """The latest presets a file is written against are what today's code writes: a model's
    file at today's defaults and a file of the context model alone write no JSON at all. The
    earlier revision's two stay as they were, in front (files name them by index)."""
    from dataclasses import asdict
    from rnnlm.compression.environment import CODING_REVISION
    from rnnlm.compression.mixed import CONTEXT_ALONE, MixSettings

    *earlier, model, alone = container.PRESETS_5
    assert model["mix"] == MixSettings().to_dict() and model["online"] == asdict(OnlineConfig())
    assert alone["mix"] == CONTEXT_ALONE.to_dict()
    assert model["revision"] == alone["revision"] == CODING_REVISION
    assert [p["revision"] for p in earlier] == [5, 5] and [dict(p, revision=0) for p in earlier] == [
        dict(model, revision=0),
        dict(alone, revision=0),
    ]


def test_the_corpus_benchmark_reads_the_folder_it_is_given_and_skips_what_is_missing(tmp_path):
    from benchmarks.bench_compress import PUBLISHED, corpus_files

    files, notes = corpus_files("calgary", None)
    assert files == {} and "needs --corpus-dir" in notes[0]
    (tmp_path / "book1").write_bytes(b"the time traveller")
    (tmp_path / "enwik8").write_bytes(b"x" * 10)
    files, notes = corpus_files("calgary", str(tmp_path))
    assert files == {"book1": b"the time traveller"} and "book2 not in" in notes[0]
    assert PUBLISHED["book1"]["cmix v19 (published)"] == 1.816
    files, _ = corpus_files("enwik8-head", str(tmp_path))
    assert list(files.values()) == [b"x" * 10]


@pytest.mark.slow  # about 30 s over the four backends; the fast tier's round trips learn a chunk late too
@needs_coder
def test_a_learner_a_chunk_late_gives_the_same_bits_whatever_the_threads_timing(backend, monkeypatch):
    """lag 1 trains on a worker thread while the coder goes on: the file must not depend on
    which thread runs first. Coded once as is and once with the learner and the coder each
    stalled at random (a busy machine's schedule), the bytes are the same and either decodes."""
    import random
    import time as clock

    from rnnlm.compression import pipeline, predictor
    from rnnlm.data.corpus import read_raw_text

    data = read_raw_text()[:2400].encode()
    config = CompressConfig(mix="both", backend=backend.NAME, online=OnlineConfig(num_hiddens=16, lag=1))
    calm = pipeline.compress(data, config).data
    jitter = random.Random(0)
    learn, probs = predictor.Predictor._learn, predictor.Predictor.probs

    def slow_learn(self, *args):
        clock.sleep(jitter.random() * 0.02)
        return learn(self, *args)

    def slow_probs(self, prev):
        if jitter.random() < 0.1:
            clock.sleep(jitter.random() * 0.01)
        return probs(self, prev)

    monkeypatch.setattr(predictor.Predictor, "_learn", slow_learn)
    monkeypatch.setattr(predictor.Predictor, "probs", slow_probs)
    stalled = pipeline.compress(data, config).data
    assert stalled == calm
    assert pipeline.decompress(calm).data == data
    monkeypatch.undo()
    assert pipeline.decompress(stalled).data == data
    in_line = CompressConfig(mix="both", backend=backend.NAME, online=OnlineConfig(num_hiddens=16, lag=0))
    assert pipeline.compress(data, in_line).data != calm  # another learning rule: the test above can fail
