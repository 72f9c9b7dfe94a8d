"""`compress` and `decompress` as the library runs them, one visible sequence each: bytes and
settings in, a compressed file's bytes out, and back. The command line and `rnnlm.compress`
both call these; what the report line says comes back with the bytes (`Coded`).

    compress:   settings checked -> backend loaded with the thread count -> the model (a
                checkpoint, or --online's seeded one) -> the mix -> the column coder -> file
    decompress: the file checked (lengths, CRC, settings) -> the backend it names, computing
                with its thread count -> the same model and mix -> decoded, checksums as it
                goes -> the original's length and CRC32
"""

import time
import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Dict, Optional, Tuple

from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.compression import container, mixed
from rnnlm.compression.checksums import CHECK_EVERY, ColumnChecks, Diverged, diverged_message
from rnnlm.compression.coder import decode, encode, online_vocab
from rnnlm.compression.config import AUTO_ALONE_CHARS, AUTO_MAX_CHARS, AUTO_ROW_CHARS, CompressConfig
from rnnlm.compression.environment import CODING_REVISION, coding_backend, decoding_backend, environment, platform_tag
from rnnlm.compression.file_settings import read_settings
from rnnlm.compression.predictor import checkpoint_factory, online_factory
from rnnlm.compression.progress_bar import CodingProgress
from rnnlm.errors import UsageError


@dataclass(frozen=True)
class Coded:
    """What one direction produced: `data` (the compressed file, or the original's bytes)
    and what the report line says."""

    data: bytes
    n_bytes: int  # the original's bytes
    n_chars: int  # and characters
    file_bytes: int  # the compressed file's size
    header_bytes: int  # all of it but the payload
    ideal_bits: float  # -sum log2 p of what was coded
    seconds: float
    settings: Dict[str, Any]
    notes: Tuple[str, ...] = ()


def compress(
    data: bytes,
    config: CompressConfig,
    checkpoint: Optional[str] = None,
    quiet: bool = True,
    wrap: Optional[Callable[[Any], Any]] = None,
) -> Coded:
    """The compressed file's bytes of `data` (any bytes: those that are not UTF-8 survive as
    escapes), coded as `config` says, with `checkpoint` (a path) in checkpoint mode. `wrap`
    (for studies) takes the model's factory (rows -> Predictor) and returns the one to use,
    e.g. one that records what the RNN predicts."""
    if len(data) > container.MAX_ORIGINAL_BYTES:
        raise UsageError(f"the input has {len(data)} bytes; rnnlm codes at most {container.MAX_ORIGINAL_BYTES}")
    if config.mode == "checkpoint" and checkpoint is None:
        raise UsageError("checkpoint mode codes with a trained model: give a checkpoint (or code --online)")
    if config.mode == "online" and checkpoint is not None:
        raise UsageError("--online codes without a checkpoint: give one or the other")
    if config.mix == "auto":
        return _better_mix(data, config, checkpoint, quiet, wrap)
    text = data.decode("utf-8", "surrogateescape")
    settings: Dict[str, Any] = {"mode": config.mode, "segments": config.segments, "revision": CODING_REVISION}
    note = None
    if config.mix == "context":  # no framework runs: nothing of one to record or match
        vocab = online_vocab(text, by_code_point=True)
        settings["vocab"] = "".join(vocab.idx_to_token[1:])
        factory: Any = lambda rows: None  # noqa: E731
    elif config.mode == "online":
        backend, threads, note = coding_backend(config.backend, config.thread_count)
        settings.update(**environment(backend, threads), platform=platform_tag())
        vocab = online_vocab(text)
        mcfg = config.online.model_config(len(vocab))
        factory = online_factory(backend, mcfg, config.online, threads)
        settings.update(online=asdict(config.online), vocab="".join(vocab.idx_to_token[1:]))
    else:
        backend, threads, note = coding_backend(config.backend, config.thread_count)
        settings.update(**environment(backend, threads), platform=platform_tag())
        mcfg, vocab, weights, meta = load_checkpoint(checkpoint)
        settings["fingerprint"] = container.fingerprint(weights, meta)
        factory = checkpoint_factory(backend, mcfg, weights, threads)
    if wrap is not None:
        factory = wrap(factory)
    if config.mix != "rnn":
        mix = mixed.MixSettings() if config.mix == "both" else mixed.CONTEXT_ALONE
        settings["mix"] = mix.to_dict()
        factory = mixed.mixing_factory(factory, len(vocab), mix)
    checks = ColumnChecks()
    progress = CodingProgress(len(data), len(text), quiet)
    start = time.perf_counter()
    try:
        words, ideal_bits = encode(text, vocab, factory, config.segments, checks, progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    settings.update(check_every=CHECK_EVERY, checks=checks.values)
    out = container.pack(zlib.crc32(data), len(data), len(text), settings, words)
    return Coded(
        out,
        len(data),
        len(text),
        len(out),
        container.header_size(settings, len(data), len(text)),
        ideal_bits,
        seconds,
        settings,
        () if note is None else (note,),
    )


def _better_mix(data, config, checkpoint, quiet, wrap):
    """`mix="auto"`: the RNN mixed with the context model; for a text up to AUTO_MAX_CHARS
    online, also the context model alone in rows of AUTO_ROW_CHARS or more (a row's first
    characters have no context, and a short text has few characters per row), and the smaller
    file of the two (the file records which mix and how many rows; the time is both codings').
    Below AUTO_ALONE_CHARS, the context model alone only, and no framework loads."""
    n_chars = len(data.decode("utf-8", "surrogateescape"))
    if config.mode != "online" or n_chars > AUTO_MAX_CHARS:
        return compress(data, replace(config, mix="both"), checkpoint, quiet, wrap)
    rows = max(1, min(config.segments, n_chars // AUTO_ROW_CHARS))
    alone = compress(data, replace(config, mix="context", segments=rows), checkpoint, quiet, wrap)
    if n_chars < AUTO_ALONE_CHARS:
        return alone
    both = compress(data, replace(config, mix="both"), checkpoint, quiet, wrap)
    best = min((alone, both), key=lambda coded: len(coded.data))
    return replace(best, seconds=both.seconds + alone.seconds)


def decompress(
    blob: bytes, name: str = "data", checkpoint: Optional[str] = None, backend: Optional[str] = None, quiet: bool = True
) -> Coded:
    """The original bytes of compressed file `blob` (`name` in messages), decoded with the
    backend it names (`backend`, if given, must agree) and, if it was coded with one,
    `checkpoint`; a file that is damaged, not ours or not reproducible here is a UsageError."""
    crc, n_bytes, n_chars, settings, words = container.unpack(blob, name)
    file = read_settings(settings, n_chars, name)
    if file.mode == "online" and checkpoint:
        raise UsageError(f"'{name}' was coded --online and needs no checkpoint; drop --checkpoint")
    if file.mode == "checkpoint" and not checkpoint:
        raise UsageError(f"'{name}' was coded with a checkpoint; give it with --checkpoint")
    if file.mix is not None and not file.mix.rnn:  # the context model alone: no framework runs
        vocab, factory = file.vocab, (lambda rows: None)
        if settings.get("revision") != CODING_REVISION:
            raise UsageError(
                f"'{name}' was coded with rnnlm coding revision {settings.get('revision')}, "
                f"this machine has {CODING_REVISION}: decoding needs the same"
            )
        if backend and file.backend and backend != file.backend:
            raise UsageError(f"'{name}' was coded with backend {file.backend}; decode it with --backend {file.backend}")
    elif file.online is not None:
        module, threads = decoding_backend(settings, name, backend)
        vocab = file.vocab
        factory = online_factory(module, file.online.model_config(len(vocab)), file.online, threads)
    else:
        module, threads = decoding_backend(settings, name, backend)
        mcfg, vocab, weights, meta = load_checkpoint(checkpoint)
        if container.fingerprint(weights, meta) != settings.get("fingerprint"):
            raise UsageError(f"'{name}' was coded with another checkpoint than '{checkpoint}' (fingerprints differ)")
        factory = checkpoint_factory(module, mcfg, weights, threads)
    if file.mix is not None:
        factory = mixed.mixing_factory(factory, len(vocab), file.mix)
    notes: Tuple[str, ...] = ()
    if "platform" in settings and settings["platform"] != platform_tag():
        notes = (
            f"warning: '{name}' was coded on {settings.get('platform')}; another CPU may "
            "round differently (the CRC check will tell)",
        )
    progress = CodingProgress(n_bytes, n_chars, quiet)
    start = time.perf_counter()
    try:
        out, ideal_bits = _decode(words, n_chars, vocab, factory, file, name, progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    if len(out) != n_bytes or zlib.crc32(out) != crc:
        raise UsageError(f"'{name}' did not decode to the original (CRC32 mismatch); nothing written")
    header = container.header_size(settings, n_bytes, n_chars, blob[len(container.MAGIC)])
    return Coded(out, n_bytes, n_chars, len(blob), header, ideal_bits, seconds, settings, notes)


def _decode(words, n_chars, vocab, factory, file, name, progress):
    """(the decoded bytes, ideal bits); every way the entropy coder can fail on a hostile
    payload (an impossible symbol or code point, an assertion or panic inside the coder, a
    lone surrogate UTF-8 cannot carry, ...) is one UsageError."""
    try:
        text, ideal_bits = decode(words, n_chars, vocab, factory, file.segments, file.checks, progress)
        return text.encode("utf-8", "surrogateescape"), ideal_bits
    except Diverged as exc:
        raise UsageError(diverged_message(name, exc)) from None
    except (UsageError, KeyboardInterrupt):
        raise
    except Exception as exc:
        raise UsageError(f"'{name}' is corrupt: it does not decode ({type(exc).__name__})") from None
    except BaseException as exc:  # a Rust panic in the coder arrives as a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise UsageError(f"'{name}' is corrupt: it does not decode ({type(exc).__name__})") from None
