"""`rnnlm compress` and `rnnlm decompress`: parsing, paths and the report line; the library
(`rnnlm.compression.pipeline`) codes. Every path is checked before coding starts; outputs are
written atomically, after the decoded text matched the original's length and CRC32."""

import os
import sys

from rnnlm.backend import BACKENDS
from rnnlm.cli.options import integer
from rnnlm.compression import config, container, pipeline
from rnnlm.config import CELLS
from rnnlm.errors import UsageError
from rnnlm.io.limits import read_bounded
from rnnlm.io.outputs import check_writable, write_bytes
from rnnlm.threads import CODING_THREADS, ONLINE_CODING_THREADS


def add_parser(sub):
    """The `compress` and `decompress` subcommands."""
    p = sub.add_parser("compress", help="compress a text file losslessly with the model")
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--checkpoint", metavar="PATH", help="code with this trained model")
    mode.add_argument(
        "--online", action="store_true", help="no checkpoint: learn from the seeded initial weights while coding"
    )
    p.add_argument(
        "--segments",
        type=integer,
        default=config.DEFAULT_SEGMENTS,
        metavar="R",
        help=f"code the text as R independent rows of one batch (default {config.DEFAULT_SEGMENTS})",
    )
    online = config.OnlineConfig()
    p.add_argument("--model", choices=CELLS, default=online.cell, help="--online model")
    p.add_argument("--num-hiddens", type=integer, default=online.num_hiddens, help="--online model")
    p.add_argument("--seed", type=int, default=online.seed, help="--online initial weights")
    p.add_argument(
        "--mix",
        choices=config.MIX_CHOICES,
        default=config.CompressConfig.mix,
        help="both: the RNN mixed with an order-0..6 context model; auto (default): "
        f"that, or for texts up to {config.AUTO_MAX_CHARS} characters online the "
        "context model alone if smaller; rnn: the RNN alone; context: the context "
        "model alone (with --online)",
    )
    p.add_argument("--backend", help="one of: " + ", ".join(BACKENDS))
    p.add_argument(
        "--threads",
        type=integer,
        metavar="N",
        help=f"threads the framework computes with (default {CODING_THREADS} with a checkpoint, "
        f"{ONLINE_CODING_THREADS} --online, which trains on a second thread); the file records "
        "the count it computed with and its decoder uses the same",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_compress)

    p = sub.add_parser("decompress", help="restore a file written by rnnlm compress")
    p.add_argument("input", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT")
    p.add_argument("--checkpoint", metavar="PATH", help="the checkpoint it was compressed with")
    p.add_argument("--backend", help="must be the one it was coded with (default: that one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_decompress)


def _paths(args, limit):
    """The input's bytes, once the output is known to be writable and not the input."""
    data = read_bounded(args.input, "input", limit)
    check_writable(args.output, "output")
    if os.path.exists(args.output) and os.path.samefile(args.output, args.input):
        raise UsageError(f"output '{args.output}' is the input file")
    return data


def _report(verb, path, coded):
    n, s = coded.n_chars, coded.settings
    bpc, ideal = (8.0 * coded.file_bytes / n, coded.ideal_bits / n) if n else (0.0, 0.0)
    speed = coded.n_bytes / coded.seconds / 1e3 if coded.seconds > 0 else 0.0
    mix = s.get("mix")
    mode = s["mode"] + (
        "" if mix is None else ", mixed with the context model" if mix["rnn"] else ", context model alone"
    )
    for note in coded.notes:
        print(note, file=sys.stderr)
    print(
        f"{verb} '{path}': {coded.n_bytes} bytes, {n} chars <-> {coded.file_bytes} bytes (header "
        f"{coded.header_bytes}): {bpc:.3f} bits/char, ideal {ideal:.3f} bits/char; {speed:.1f} kB/s "
        f"({s.get('backend', 'no framework')}, {mode}, {s['segments']} segments)"
    )


def cmd_compress(args):
    data = _paths(args, container.MAX_ORIGINAL_BYTES)
    cfg = config.CompressConfig.from_options(
        args.online,
        segments=args.segments,
        threads=args.threads,
        mix=args.mix,
        backend=args.backend,
        model=args.model,
        num_hiddens=args.num_hiddens,
        seed=args.seed,
    )
    coded = pipeline.compress(data, cfg, args.checkpoint, args.quiet)
    write_bytes(args.output, coded.data)
    _report("compressed", args.input, coded)
    return 0


def cmd_decompress(args):
    data = _paths(args, container.MAX_FILE_BYTES)
    coded = pipeline.decompress(data, args.input, args.checkpoint, args.backend, args.quiet)
    write_bytes(args.output, coded.data)
    _report("decompressed", args.output, coded)
    return 0
