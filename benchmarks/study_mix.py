"""Study for the mixed coder: dump the online RNN's per-character probabilities on a text, then
replay the context model and the mixer over them offline (no coder), printing bits/char.

    python benchmarks/study_mix.py dump [--text book|other] --out rnn.npz   # minutes: the RNN learns
    python benchmarks/study_mix.py mix rnn.npz                              # seconds to a minute

The dump holds, for every character in text order, the RNN's probabilities quantized as the
mixer takes them (`mixer.quantize_model_probs`), so `mix` sees exactly what the coder would.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_text(name):
    if name == "book":
        from rnnlm.data.corpus import read_raw_text

        return read_raw_text()
    from benchmarks.bench_compress import unseen_english

    return unseen_english()


def dump(args):
    from dataclasses import replace
    from rnnlm.compression import pipeline
    from rnnlm.compression.coder import char_ids, layout, online_vocab
    from rnnlm.compression.config import CompressConfig, OnlineConfig
    from rnnlm.compression.mixer import quantize_model_probs

    text = load_text(args.text)
    ocfg = OnlineConfig()
    for kv in args.online:  # lr=0.02 replay_batch=64: the --online model's settings
        name, value = kv.split("=")
        ocfg = replace(ocfg, **{name: type(getattr(ocfg, name))(value)})
    config = CompressConfig(
        mode="online",
        segments=args.segments,
        threads=args.threads or None,
        mix="rnn",
        online=ocfg,
        backend=args.backend,
    )
    vocab = online_vocab(text)
    rows, length = layout(len(text), args.segments)
    grid = np.zeros((rows, length, len(vocab)), dtype=np.int32)
    col = [0]

    def recording(inner):
        """The online RNN's factory, its predictors recording each column's probabilities."""

        def factory(r):
            pred = inner(r)
            probs = pred.probs

            def record(prev):
                p = probs(prev)
                grid[:, col[0]] = quantize_model_probs(p)
                col[0] += 1
                return p

            pred.probs = record
            return pred

        return factory

    coded = pipeline.compress(text.encode("utf-8", "surrogateescape"), config, wrap=recording)
    flat = grid.reshape(rows * length, -1)[: len(text)]
    np.savez(
        args.out, probs=flat, ids=char_ids(text, vocab), rows=rows, length=length, vocab="".join(vocab.idx_to_token[1:])
    )
    print(
        f"RNN online: {coded.ideal_bits / len(text):.4f} bits/char (ideal), {len(text) / coded.seconds / 1e3:.2f} kB/s"
    )


def mix(args):
    from dataclasses import replace
    from rnnlm.compression.mixed import MixSettings, simulate

    d = np.load(args.dump)
    ids, probs = d["ids"], d["probs"]
    rows, length = int(d["rows"]), int(d["length"])
    settings = MixSettings(rnn=not args.no_rnn)
    for kv in args.set:  # context.max_order=5 mixer.lr=30 match.min_len=0 sse.rate=0
        part, value = kv.split("=")
        group, name = part.split(".")
        settings = replace(settings, **{group: replace(getattr(settings, group), **{name: int(value)})})
    start = time.perf_counter()
    report, n = simulate(ids, probs, rows, length, settings, args.each_level, args.columns or None)
    seconds = time.perf_counter() - start
    for name, bits in report.items():
        print(f"{name:>24}: {bits / n:.4f} bits/char")
    print(f"({n / seconds / 1e3:.1f} kB/s for the context model and mixer)")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("dump")
    p.add_argument("--text", default="book", choices=("book", "other"))
    p.add_argument("--backend", default="torch")
    p.add_argument("--segments", type=int, default=32)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=0, help="instead of the coder's default count")
    p.add_argument("--online", nargs="*", default=[], help="--online settings, e.g. lr=0.02")
    p = sub.add_parser("mix")
    p.add_argument("dump")
    p.add_argument("--set", nargs="*", default=[], help="settings, e.g. context.max_order=5 mixer.lr=30")
    p.add_argument("--no-rnn", action="store_true", help="the context model alone")
    p.add_argument("--columns", type=int, default=0, help="only the first N columns (N chars of each row)")
    p.add_argument("--each-level", action="store_true", help="also each input alone")
    args = ap.parse_args()
    {"dump": dump, "mix": mix}[args.cmd](args)


if __name__ == "__main__":
    main()
