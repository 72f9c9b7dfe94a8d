"""The fuzz worker of tests/test_reader_fuzz.py: run one reader over seeded mutations of a real
file, in this process, under a memory limit (RLIMIT_AS) and a per-case alarm, and print the
count of each outcome as JSON. A case must end in success or exactly one UsageError.

    python -m tests.fuzz_readers KIND SEED_FILE CASES SEED WORKDIR
"""

import io
import json
import os
import resource
import signal
import sys
import zlib
from contextlib import redirect_stderr, redirect_stdout

import numpy as np

SECONDS_PER_CASE = 10
HEADROOM = 2 << 30  # address space a case may add to what the imports already took
BIG_INTS = [0, 1, 0x7F, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 40, (1 << 63) - 1, (1 << 64) - 1]


class CaseTimedOut(BaseException):
    """Raised by the alarm: a BaseException, so no reader's `except Exception` hides it."""


def mutate(data, rng):
    """One seeded mutation: bit flips, odd bytes, a big integer, a cut, a repeat; half the time
    aimed at the first 64 bytes, where headers keep their claims."""
    data = bytearray(data)
    if not data:
        return bytes(rng.integers(0, 256, 16, dtype=np.uint8))
    where = lambda: int(rng.integers(min(len(data), 64) if rng.random() < 0.5 else len(data)))  # noqa: E731
    kind = int(rng.integers(6))
    if kind == 0:
        for _ in range(int(rng.integers(1, 9))):
            data[where()] ^= 1 << int(rng.integers(8))
    elif kind == 1:
        for _ in range(int(rng.integers(1, 5))):
            data[where()] = int(rng.choice([0x00, 0xFF, 0x7F, 0x80]))
    elif kind == 2:
        pos = where()
        value = BIG_INTS[int(rng.integers(len(BIG_INTS)))]
        width = int(rng.choice([4, 8]))
        data[pos : pos + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    elif kind == 3:
        del data[int(rng.integers(len(data))) :]
    elif kind == 4:
        start = where()
        data[start:start] = data[start : start + int(rng.integers(1, 256))]
    else:
        start = where()
        data[start : start + int(rng.integers(1, 64))] = b""
    return bytes(data)


def reader_for(kind, workdir):
    """A function(path) that reads `path` as this reader does; raises UsageError on bad input."""
    if kind in ("params", "pt"):
        from rnnlm.backend import load_format
        from rnnlm.interop.convert import read_native
        from rnnlm.model.names import infer_config

        def read(path):
            fmt, weights, _, scheme = read_native(path, "auto")
            infer_config(weights, scheme, path, load_format(fmt).DEFAULT_ACTIVATION)

        return read
    if kind in ("npz", "onnx"):
        from rnnlm.checkpoints.file import load_checkpoint

        return load_checkpoint
    if kind == "container":
        from rnnlm.cli.main import main

        def read(path):
            code = main(["decompress", path, "-o", os.path.join(workdir, "out.txt")])
            if code != 0:
                from rnnlm.errors import UsageError

                raise UsageError("exit status 2")  # main printed exactly one line, checked below

        return read
    if kind in ("corpus", "corpus-raw"):
        from rnnlm.data.corpus import load_corpus

        text = "raw" if kind == "corpus-raw" else "book"
        return lambda path: load_corpus(path, 0, text=text)
    raise SystemExit(f"unknown reader {kind}")


def limit_memory():
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM, resource.RLIM_INFINITY))


def run_case(read, path):
    """'ok', 'usage error', or what went wrong."""
    from rnnlm.errors import UsageError

    err = io.StringIO()
    signal.alarm(SECONDS_PER_CASE)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            read(path)
        outcome = "ok"
    except UsageError:
        outcome = "usage error"
    except CaseTimedOut:
        outcome = "hang"
    except MemoryError:
        outcome = "memory"
    except Exception as exc:
        outcome = f"traceback {type(exc).__name__}: {str(exc)[:120]}"
    finally:
        signal.alarm(0)
    lines = [line for line in err.getvalue().splitlines() if not line.startswith("warning:")]
    if outcome == "usage error" and len(lines) > 1:
        outcome = f"noise: {lines[:3]}"
    return outcome


def main(kind, seed_file, cases, seed, workdir):
    def on_alarm(signum, frame):
        raise CaseTimedOut()

    signal.signal(signal.SIGALRM, on_alarm)
    read = reader_for(kind, workdir)
    with open(seed_file, "rb") as f:
        original = f.read()
    read(seed_file)  # the real file reads (and every import is done before the limit)
    limit_memory()
    counts, bad = {}, []
    suffix = os.path.splitext(seed_file)[1]
    for i in range(cases):
        rng = np.random.default_rng([seed, i])
        data = mutate(original, rng)
        if rng.random() < 0.3:
            data = mutate(data, rng)
        path = os.path.join(workdir, f"case{suffix}")
        with open(path, "wb") as f:
            f.write(data)
        with open(os.path.join(workdir, "last-case"), "w") as f:
            f.write(f"{i} crc {zlib.crc32(data):08x}\n")  # names the case if the process dies
        outcome = run_case(read, path)
        key = outcome if outcome in ("ok", "usage error") else outcome.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
        if key not in ("ok", "usage error"):
            bad.append({"case": i, "outcome": outcome})
    print(json.dumps({"reader": kind, "cases": cases, "counts": counts, "bad": bad[:10]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
