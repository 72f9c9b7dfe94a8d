"""`rnnlm compress` and `rnnlm decompress`: paths, settings, checks and the report line.

The coding itself is in `rnnlm.compression.coder`, the file format in `rnnlm.compression.container`.
Every path is checked before coding starts; outputs are written atomically, and a decoded
text is checked against the original's length and CRC32 before it is renamed into place.
"""

import os
import sys
import time
import zlib
from dataclasses import fields

from rnnlm.compression import coder as coding
from rnnlm.compression import container
from rnnlm.backend import BACKENDS, load_backend, select_backend
from rnnlm.cli.options import integer
from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.compression import mixed
from rnnlm.compression.progress_bar import CodingProgress
from rnnlm.errors import UsageError
from rnnlm.io.outputs import check_writable, write_bytes
from rnnlm.data.vocab import Vocab
from rnnlm.config import ConfigError
from rnnlm.io.limits import read_bounded

DEFAULT_SEGMENTS = {"checkpoint": 32, "online": 32}
MAX_SEGMENTS = 1 << 16
MIX_CHOICES = ("both", "rnn", "context")


def add_parser(sub):
    """The `compress` and `decompress` subcommands."""
    p = sub.add_parser("compress", help="compress a text file losslessly with the model")
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--checkpoint", metavar="PATH", help="code with this trained model")
    mode.add_argument("--online", action="store_true",
                      help="no checkpoint: learn from the seeded initial weights while coding")
    p.add_argument("--segments", type=integer, metavar="R",
                   help="code the text as R independent rows of one batch (default: "
                        f"{DEFAULT_SEGMENTS['checkpoint']} with a checkpoint, "
                        f"{DEFAULT_SEGMENTS['online']} online)")
    defaults = coding.OnlineConfig()
    p.add_argument("--model", choices=("rnn", "gru", "lstm"), default=defaults.cell, help="--online model")
    p.add_argument("--num-hiddens", type=integer, default=defaults.num_hiddens, help="--online model")
    p.add_argument("--seed", type=int, default=defaults.seed, help="--online initial weights")
    p.add_argument("--mix", choices=MIX_CHOICES, default="both",
                   help="both: the RNN mixed with an order-0..6 context model (default); rnn: the "
                        "RNN alone; context: the context model alone (with --online)")
    p.add_argument("--backend", help="one of: " + ", ".join(BACKENDS))
    p.add_argument("--threads", type=integer, default=coding.THREADS, metavar="N",
                   help=f"threads the framework computes with (default {coding.THREADS}); the file "
                        "records it and its decoder uses the same, whatever its cores")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_compress)

    p = sub.add_parser("decompress", help="restore a file written by rnnlm compress")
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--checkpoint", metavar="PATH", help="the checkpoint it was compressed with")
    p.add_argument("--backend", help="must be the one it was coded with (default: that one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_decompress)


# ---- paths -------------------------------------------------------------------------------

def _read_input(path, limit):
    return read_bounded(path, "input", limit)


def _check_output(path, input_path):
    check_writable(path, "output")
    if os.path.exists(input_path) and os.path.exists(path) and os.path.samefile(path, input_path):
        raise UsageError(f"output '{path}' is the input file")


def _report(verb, path, n_bytes, n_chars, size, header, ideal_bits, seconds, settings):
    bpc = 8.0 * size / n_chars if n_chars else 0.0
    ideal = ideal_bits / n_chars if n_chars else 0.0
    speed = n_bytes / seconds / 1e3 if seconds > 0 else 0.0
    mode = "online" if settings["mode"] == "online" else "checkpoint"
    mix = settings.get("mix")
    mode += "" if mix is None else (", mixed with the context model" if mix["rnn"] else ", context model alone")
    print(f"{verb} '{path}': {n_bytes} bytes, {n_chars} chars <-> {size} bytes (header {header}): "
          f"{bpc:.3f} bits/char, ideal {ideal:.3f} bits/char; {speed:.1f} kB/s "
          f"({settings['backend']}, {mode}, {settings['segments']} segments)")


# ---- compress ----------------------------------------------------------------------------

def cmd_compress(args):
    data = _read_input(args.input, container.MAX_ORIGINAL_BYTES)
    _check_output(args.output, args.input)
    backend = select_backend(args.backend, training=True)  # coding steps the model; online mode trains it
    text = data.decode("utf-8", "surrogateescape")  # bytes that are not UTF-8 survive as escapes
    mode = "online" if args.online else "checkpoint"
    for flag, value in (("--segments", args.segments), ("--num-hiddens", args.num_hiddens)):
        if value is not None and value <= 0:
            raise UsageError(f"{flag} must be a positive integer, got {value}")
    segments = args.segments or DEFAULT_SEGMENTS[mode]
    if segments > MAX_SEGMENTS:
        raise UsageError(f"--segments must be at most {MAX_SEGMENTS}, got {segments}")
    threads = args.threads
    if not 1 <= threads <= coding.MAX_THREADS:
        raise UsageError(f"--threads must be from 1 to {coding.MAX_THREADS}, got {threads}")
    settings = {"mode": mode, "segments": segments, **coding.environment(backend, threads),
                "platform": coding.platform_tag()}
    if args.online:
        ocfg = coding.OnlineConfig(cell=args.model, num_hiddens=args.num_hiddens, seed=args.seed)
        vocab = coding.online_vocab(text)
        mcfg = coding.online_model_config(ocfg, len(vocab))
        factory = coding.online_factory(backend, mcfg, ocfg, threads)
        settings.update(coding.online_settings(ocfg, vocab))
    else:
        mcfg, vocab, weights, meta = load_checkpoint(args.checkpoint)
        settings["fingerprint"] = container.fingerprint(weights, meta)
        factory = coding.checkpoint_factory(backend, mcfg, weights, threads)
    if args.mix == "context" and not args.online:
        raise UsageError("--mix context codes with the context model alone: use it with --online")
    if args.mix != "rnn":
        mix = mixed.MixSettings(rnn=args.mix == "both")
        settings["mix"] = mix.to_dict()
        factory = mixed.mixing_factory(factory, len(vocab), mix)
    checks = coding.ColumnChecks()
    progress = CodingProgress(len(data), len(text), args.quiet)
    start = time.perf_counter()
    try:
        words, ideal_bits = coding.encode(text, vocab, factory, segments, checks, progress)
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    settings.update(check_every=coding.CHECK_EVERY, checks=checks.values)
    out = container.pack(zlib.crc32(data), len(data), len(text), settings, words)
    write_bytes(args.output, out)
    _report("compressed", args.input, len(data), len(text), len(out), len(out) - 4 * len(words),
            ideal_bits, seconds, settings)
    return 0


# ---- decompress --------------------------------------------------------------------------

def _online_from_settings(settings, name):
    try:
        known = {f.name for f in fields(coding.OnlineConfig)}
        raw = settings["online"]
        if not isinstance(raw, dict) or set(raw) != known:
            raise ValueError
        ocfg = coding.OnlineConfig(**raw)
        tokens = settings["vocab"]
        if not isinstance(tokens, str) or len(tokens) >= coding.ONLINE_MAX_VOCAB:
            raise ValueError
        vocab = Vocab.from_tokens_list([Vocab.UNK] + list(tokens))
        mcfg = coding.online_model_config(ocfg, len(vocab))
        if ocfg.cell not in ("rnn", "gru", "lstm") or not 0 < ocfg.num_hiddens <= 8192 \
                or not 0 < ocfg.num_layers <= 16 or not 0 < ocfg.chunk <= 1 << 16:
            raise ValueError
    except ConfigError as exc:
        raise UsageError(f"'{name}' has --online settings out of range: {exc}") from None
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (bad --online settings)") from None
    return ocfg, vocab, mcfg


def _mix_from_settings(settings, name):
    if "mix" not in settings:
        return None
    try:
        return mixed.MixSettings.from_dict(settings["mix"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (bad mix settings)") from None


def _checks_from_settings(settings, name):
    checks = settings.get("checks", [])
    if settings.get("check_every", coding.CHECK_EVERY) != coding.CHECK_EVERY or not isinstance(checks, list) \
            or not all(type(c) is int and 0 <= c < 1 << 16 for c in checks):
        raise UsageError(f"'{name}' is corrupt (bad checksums)")
    return coding.ColumnChecks(checks)


def cmd_decompress(args):
    data = _read_input(args.input, container.MAX_FILE_BYTES)
    _check_output(args.output, args.input)
    crc, n_bytes, n_chars, settings, words = container.unpack(data, args.input)
    mode, segments = settings.get("mode"), settings.get("segments")
    if mode not in ("checkpoint", "online") or not isinstance(segments, int) \
            or not 0 < segments <= MAX_SEGMENTS or not isinstance(settings.get("backend"), str):
        raise UsageError(f"'{args.input}' is corrupt (bad settings)")
    name = settings["backend"]
    if args.backend and args.backend != name:
        raise UsageError(f"'{args.input}' was coded with backend {name}; decode it with --backend {name}")
    backend = load_backend(name)
    threads = coding.check_environment(settings, backend, args.input)
    if mode == "online":
        if args.checkpoint:
            raise UsageError(f"'{args.input}' was coded --online and needs no checkpoint; "
                             "drop --checkpoint")
        ocfg, vocab, mcfg = _online_from_settings(settings, args.input)
        factory = coding.online_factory(backend, mcfg, ocfg, threads)
    else:
        if not args.checkpoint:
            raise UsageError(f"'{args.input}' was coded with a checkpoint; give it with --checkpoint")
        mcfg, vocab, weights, meta = load_checkpoint(args.checkpoint)
        if container.fingerprint(weights, meta) != settings.get("fingerprint"):
            raise UsageError(f"'{args.input}' was coded with another checkpoint than "
                             f"'{args.checkpoint}' (fingerprints differ)")
        factory = coding.checkpoint_factory(backend, mcfg, weights, threads)
    mix = _mix_from_settings(settings, args.input)
    if mix is not None:
        factory = mixed.mixing_factory(factory, len(vocab), mix)
    checks = _checks_from_settings(settings, args.input)
    if settings.get("platform") != coding.platform_tag():
        print(f"warning: '{args.input}' was coded on {settings.get('platform')}; another CPU may "
              "round differently (the CRC check will tell)", file=sys.stderr)
    progress = CodingProgress(n_bytes, n_chars, args.quiet)
    start = time.perf_counter()
    try:
        text, ideal_bits = coding.decode(words, n_chars, vocab, factory, segments, checks, progress)
        out = text.encode("utf-8", "surrogateescape")
    except (ValueError, RuntimeError, OverflowError) as exc:  # an impossible symbol or code point
        raise UsageError(f"'{args.input}' is corrupt: it does not decode ({type(exc).__name__})") from None
    except coding.Diverged as exc:
        raise UsageError(f"'{args.input}' decodes differently than it was coded: the checksum after "
                         f"character {exc.column + coding.CHECK_EVERY} of each of its {exc.rows} segments "
                         f"differs (characters {exc.column}-{exc.column + coding.CHECK_EVERY - 1} of "
                         "segment 1 on); this machine does not reproduce the encoder's probabilities; "
                         "nothing written") from None
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    if len(out) != n_bytes or zlib.crc32(out) != crc:
        raise UsageError(f"'{args.input}' did not decode to the original (CRC32 mismatch); "
                         "nothing written")
    write_bytes(args.output, out)
    _report("decompressed", args.output, n_bytes, n_chars, len(data), len(data) - 4 * len(words),
            ideal_bits, seconds, settings)
    return 0
