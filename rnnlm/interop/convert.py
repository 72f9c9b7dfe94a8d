"""`rnnlm import` and `rnnlm export`: the book's native checkpoints <-> rnnlm checkpoints.

    import: native file --(the format's reader)--> {native name: array}
            --(the format's naming scheme -> canonical, config from shapes)--> + book vocabulary
            --> rnnlm .npz
    export: rnnlm .npz --> canonical weights --(the format's writer)--> bytes --> atomic write

Formats are those `rnnlm.backends.registry` declares; a framework is imported only to read
or write its own format, and a file's kind is told by its content, never its name.
"""

import os
import zipfile

from rnnlm.backend import EXPORT_FORMATS, IMPORT_FORMATS, format_call, load_format
from rnnlm.checkpoints.file import META_KEY, load_checkpoint, save_checkpoint
from rnnlm.io.collisions import check_distinct
from rnnlm.io.limits import regular_file_size
from rnnlm.io.outputs import check_writable, write_bytes
from rnnlm.data.corpus import load_lines, tokenize
from rnnlm.data.vocab import Vocab
from rnnlm.errors import UsageError
from rnnlm.model.names import check_values, describe, infer_config, to_canonical
from rnnlm.model.weights import canonical_shapes

_PICKLE = b"\x80"  # a pickle's PROTO opcode


def format_titles(names):
    """'PyTorch state_dict or MXNet .params ...': the formats `names` as an error names them."""
    return " or ".join(load_format(n).TITLE for n in names)


def check_source(path):
    if not os.path.exists(path):
        raise UsageError(f"'{path}' does not exist")
    if os.path.isdir(path):
        raise UsageError(f"'{path}' is a directory, not a checkpoint")
    regular_file_size(path, "checkpoint")  # a FIFO would block the first read for ever


def detect_format(path):
    """The importable format of an existing file, from its first bytes (and a zip's entries)."""
    with open(path, "rb") as f:
        head = f.read(16)
    for name in IMPORT_FORMATS:
        if load_format(name).sniff(path, head):
            return name
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):  # a name not UTF-8...
            raise UsageError(f"'{path}' is a truncated or damaged zip archive") from None
        if f"{META_KEY}.npy" in names:
            raise UsageError(f"'{path}' is already an rnnlm checkpoint; use it as --checkpoint")
        raise UsageError(f"'{path}' is a zip archive but not a {format_titles(IMPORT_FORMATS)} file")
    if head[:1] == _PICKLE:
        raise UsageError(
            f"'{path}' is a Python pickle, not a {format_titles(IMPORT_FORMATS)} file; "
            "rnnlm never unpickles arbitrary objects"
        )
    raise UsageError(f"'{path}' is not a {format_titles(IMPORT_FORMATS)} file (unrecognised content)")


# ---- import -------------------------------------------------------------------------------


def read_native(path, fmt="auto"):
    """(format, {canonical: array}, dtype, naming scheme) of a native checkpoint file."""
    check_source(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    arrays = format_call(fmt, "read", path)
    if not arrays:
        raise UsageError(f"'{path}' holds no tensors")
    dtype, arrays = check_values(arrays, path)
    weights, scheme = to_canonical(load_format(fmt).parse_names, arrays, path)
    return fmt, weights, dtype, scheme


def book_vocab(corpus_path):
    """The vocabulary of the book's char-level data pipeline, over the whole corpus."""
    return Vocab.as_book(tokenize(load_lines(corpus_path), "char"))


def import_checkpoint(path, out, fmt="auto", activation=None, corpus=None):
    """Turn the native file `path` into the rnnlm checkpoint `out`; returns a one-line report."""
    check_distinct([(path, "the input"), (corpus, "--corpus")], [(out, "--out")])
    check_writable(out, "--out")  # before any work starts
    fmt, weights, dtype, scheme = read_native(path, fmt)
    cfg = infer_config(weights, scheme, path, activation or load_format(fmt).DEFAULT_ACTIVATION)
    if activation and cfg.cell != "rnn":
        raise UsageError(f"--activation applies to a vanilla RNN; '{path}' holds a {cfg.cell}")
    vocab = book_vocab(corpus)
    if len(vocab) != cfg.vocab_size:
        what = f"corpus '{corpus}'" if corpus else "the embedded Time Machine"
        raise UsageError(
            f"vocabulary mismatch: the weights of '{path}' have {cfg.vocab_size} "
            f"tokens, but {what} gives {len(vocab)}; pass the corpus the model "
            "was trained on with --corpus"
        )
    save_checkpoint(
        out,
        cfg,
        vocab,
        weights,
        dtype,
        extra={"imported": {"format": fmt, "names": scheme.describe(), "source": os.path.basename(path)}},
    )
    return f"imported a {describe(cfg)} ({dtype}) from {scheme.describe()} into {out}"


# ---- export -------------------------------------------------------------------------------


def export_checkpoint(checkpoint, out, fmt):
    """Write the rnnlm checkpoint `checkpoint` as a `fmt` file at `out`; returns
    (report line, how the book's code loads it)."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"unknown format '{fmt}' (choose from: {', '.join(EXPORT_FORMATS)})")
    check_distinct([(checkpoint, "the checkpoint")], [(out, "--out")])
    check_writable(out, "--out")  # before any work starts
    cfg, vocab, weights, meta = load_checkpoint(checkpoint)
    ordered = {n: weights[n] for n in canonical_shapes(cfg)}  # the book's state_dict order
    dtype = meta.get("dtype", "float32")
    write_bytes(out, format_call(fmt, "write", cfg, ordered, vocab, dtype))
    return f"exported a {describe(cfg)} to {out} ({fmt})", load_format(fmt).book_constructor(cfg, dtype)
