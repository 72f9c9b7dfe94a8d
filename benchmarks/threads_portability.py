"""Does a file coded with one thread count decode with another? Codes a text with the online
RNN (mixed) at T1 threads and decodes it at T2, the thread check bypassed, and says whether the
decode was exact, stopped at a checksum, or failed otherwise.

    python benchmarks/threads_portability.py [--chars 8000] [--backend torch] [--pairs 1:2,2:1,1:1]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.compression import coder as compress
from rnnlm.backend import load_backend
from rnnlm.compression import mixed
from rnnlm.data.corpus import read_raw_text


def factory(backend, text, threads):
    ocfg = compress.OnlineConfig()
    vocab = compress.online_vocab(text)
    inner = compress.online_factory(backend, compress.online_model_config(ocfg, len(vocab)), ocfg, threads)
    return vocab, mixed.mixing_factory(inner, len(vocab), mixed.MixSettings())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=8000)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--segments", type=int, default=1)
    ap.add_argument("--pairs", default="1:2,2:1,1:1")
    args = ap.parse_args()
    backend = load_backend(args.backend)
    text = read_raw_text()[: args.chars]
    for pair in args.pairs.split(","):
        t_enc, t_dec = map(int, pair.split(":"))
        vocab, enc = factory(backend, text, t_enc)
        checks = compress.ColumnChecks()
        start = time.perf_counter()
        words, _ = compress.encode(text, vocab, enc, args.segments, checks)
        seconds = time.perf_counter() - start
        vocab, dec = factory(backend, text, t_dec)
        try:
            back, _ = compress.decode(words, len(text), vocab, dec, args.segments, compress.ColumnChecks(checks.values))
            verdict = (
                "exact"
                if back == text
                else f"wrong text from character {next(i for i, (a, b) in enumerate(zip(back, text)) if a != b)}"
            )
        except compress.Diverged as exc:
            verdict = f"stopped by the checksum after column {exc.column + compress.CHECK_EVERY}"
        except (ValueError, RuntimeError, OverflowError) as exc:
            verdict = f"coder error ({type(exc).__name__})"
        print(
            f"{args.backend}: coded with {t_enc} thread(s), decoded with {t_dec}: {verdict} "
            f"({len(text)} chars, {args.segments} segment(s), {len(text) / seconds / 1e3:.2f} kB/s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
