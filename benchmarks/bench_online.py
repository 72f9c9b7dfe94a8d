"""`--online` compression's speed each way, as a user waits (a fresh process per direction:
imports, the backend, the model and the coding), beside the learning rule it replaced.

    python benchmarks/bench_online.py [--backend torch] [--repeats 1] [--text book|1mb]

Rows: the default (training one chunk late on a worker thread, `lag` 1, at the default thread
count) and training in line (`lag` 0) at one and two framework threads, alternating in one run
so that they see the same machine. `book` is the raw Time Machine (178,979 characters); `1mb`
is 1,000,000 characters of English prose, documentation and code that every Python ships (PSF
licence): the book, Python's `pydoc_data.topics`, then the standard library's own modules in
name order, cut at 1,000,000. Every file is decoded and compared byte for byte.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.machine import cpu_name

MB_CHARS = 1_000_000


def text(name):
    from rnnlm.data.corpus import read_raw_text

    book = read_raw_text()
    if name == "book":
        return book
    import pydoc_data.topics as topics

    parts = [book, *(topics.topics[k] for k in sorted(topics.topics))]
    library = os.path.dirname(os.__file__)
    for name in sorted(n for n in os.listdir(library) if n.endswith(".py")):
        if sum(map(len, parts)) >= MB_CHARS:
            break
        with open(os.path.join(library, name), encoding="utf-8", errors="surrogateescape") as f:
            parts.append(f.read())
    return "".join(parts)[:MB_CHARS]


def one(direction, source, target, backend, lag, threads):
    """Runs in the child: one direction, timed from the process's start; prints JSON."""
    import rnnlm
    from dataclasses import replace

    from rnnlm.compression import pipeline
    from rnnlm.compression.config import CompressConfig, OnlineConfig

    with open(source, "rb") as f:
        data = f.read()
    if direction == "compress":
        config = CompressConfig(mix="both", backend=backend, threads=threads or None)
        config = replace(config, online=OnlineConfig(lag=lag))
        coded = pipeline.compress(data, config)
        out, extra = coded.data, {"bits_per_char": 8 * len(coded.data) / coded.n_chars}
    else:
        out, extra = rnnlm.decompress(data), {}
    with open(target, "wb") as f:
        f.write(out)
    return extra


def timed_child(args):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"child {args} failed:\n{proc.stderr}")
    return seconds, json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--text", choices=("book", "1mb"), default="book")
    ap.add_argument("--rows", default="default,lag0-t1,lag0-t2", help="which rows, comma-separated")
    ap.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        direction, source, target, backend, lag, threads = args.child
        print(json.dumps(one(direction, source, target, backend, int(lag), int(threads))))
        return
    import numpy as np

    from rnnlm.backend import load_backend

    settings = {"default": (1, 0), "lag0-t1": (0, 1), "lag0-t2": (0, 2), "lag1-t1": (1, 1), "lag1-t2": (1, 2)}
    rows = [r for r in args.rows.split(",") if r]
    data = text(args.text).encode("utf-8", "surrogateescape")
    n = len(data.decode("utf-8", "surrogateescape"))
    print(
        f"# {cpu_name()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"{args.backend} {load_backend(args.backend).framework_version()}; {args.text}: {n:,} characters"
    )
    results = {r: [] for r in rows}
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, "in.txt")
        with open(source, "wb") as f:
            f.write(data)
        for _ in range(args.repeats):
            for r in rows:
                lag, threads = settings[r]
                packed, back = os.path.join(folder, f"{r}.rz"), os.path.join(folder, f"{r}.out")
                t_in, info = timed_child(("compress", source, packed, args.backend, lag, threads))
                t_out, _ = timed_child(("decompress", packed, back, args.backend, lag, threads))
                with open(back, "rb") as f:
                    if f.read() != data:
                        raise SystemExit(f"{r}: the round trip differs")
                results[r].append((info["bits_per_char"], t_in, t_out))
                print(f"# {r}: {info['bits_per_char']:.4f} bits/char, {t_in:.1f} s in, {t_out:.1f} s out", flush=True)
    print("\n| learning rule | bits/char | kB/s compress | kB/s decompress |")
    print("| --- | --- | --- | --- |")
    names = {
        "default": "the default: a chunk late on a worker thread (lag 1)",
        "lag0-t1": "in line (lag 0), 1 thread",
        "lag0-t2": "in line (lag 0), 2 threads (the former default)",
        "lag1-t1": "a chunk late, 1 thread",
        "lag1-t2": "a chunk late, 2 threads",
    }
    for r in rows:
        bpc = results[r][0][0]
        t_in = float(np.median([x[1] for x in results[r]]))
        t_out = float(np.median([x[2] for x in results[r]]))
        print(f"| {names[r]} | {bpc:.4f} | {len(data) / t_in / 1e3:.2f} | {len(data) / t_out / 1e3:.2f} |")


if __name__ == "__main__":
    main()
