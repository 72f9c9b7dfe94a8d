"""What fixes the floats of a coded file, and loading a backend that computes them again.

The RNN's probabilities depend on the backend, its framework and NumPy versions, the dtype,
and the thread count the framework computes with (how its sums are split); the machine's load
never changes that count, so it never changes the bits. The encoder loads the backend with
the count it is asked for and records what the backend then really computes with (some
frameworks fix their count when they load, or take one thread a core whatever they are asked);
the decoder loads it with the file's count and refuses, before decoding, when it cannot
compute with that count or differs in a version.
"""

import platform

import numpy as np

from rnnlm.backend import load_backend, select_backend
from rnnlm.compression.predictor import DTYPE
from rnnlm.errors import UsageError
from rnnlm.threads import MAX_THREADS, plural

CODING_REVISION = 6  # bump whenever the computation that produces probabilities changes


def environment(backend, threads):
    """The settings that fix the floats (the file records them): `threads`, the count the
    framework computes with while coding, the decoder reproduces on any number of cores."""
    return {
        "backend": backend.NAME,
        "framework": backend.framework_version(),
        "numpy": np.__version__,
        "dtype": DTYPE,
        "threads": threads,
        "revision": CODING_REVISION,
    }


def platform_tag():
    """The machine, for a warning only: another CPU may round differently (the CRC will tell)."""
    return platform.machine()


def coding_backend(flag, threads):
    """(backend, the count it computes with, a note or None) for an encoder asked for
    `threads`: loaded with that count, set to it, then asked what it computes with; a backend
    that computes with another count is set to that one, so every part of it agrees with what
    the file records."""
    backend = select_backend(flag, training=True, threads=threads)  # coding steps the model
    backend.set_num_threads(threads)
    actual = backend.num_threads()
    if actual == threads:
        return backend, threads, None
    backend.set_num_threads(actual)
    return (
        backend,
        actual,
        (
            f"note: {backend.NAME} computes with {plural(actual)} here, not the "
            f"{threads} asked (its count is fixed when it loads); the file records "
            f"{actual}, and its decoder must compute with {actual} too"
        ),
    )


def file_threads(settings, name):
    """The thread count a file's settings record; a UsageError unless it is a count."""
    threads = settings.get("threads")
    if type(threads) is not int or not 1 <= threads <= MAX_THREADS:
        raise UsageError(f"'{name}' is corrupt (bad thread count {threads!r})")
    return threads


def decoding_backend(settings, name, flag=None):
    """The backend a file names, loaded to compute with the file's thread count, after checking
    that it does and that the versions match; a UsageError naming the first mismatch."""
    want = settings["backend"]
    if flag and flag != want:
        raise UsageError(f"'{name}' was coded with backend {want}; decode it with --backend {want}")
    threads = file_threads(settings, name)
    backend = load_backend(want, threads)
    backend.set_num_threads(threads)
    if backend.num_threads() != threads:
        raise UsageError(
            f"'{name}' was coded with {want} computing with {plural(threads)}; here {want} "
            f"computes with {backend.num_threads()}, and its count is fixed when it "
            "loads: one thread a core (decode on a machine with that many cores), or "
            "the count of an earlier load in this process (decode in a fresh process)"
        )
    have = environment(backend, threads)
    for key, label in (
        ("revision", "rnnlm coding revision"),
        ("framework", f"{backend.NAME}"),
        ("numpy", "numpy"),
        ("dtype", "dtype"),
    ):
        if settings.get(key) != have[key]:
            raise UsageError(
                f"'{name}' was coded with {label} {settings.get(key)}, this machine has "
                f"{have[key]}: decoding needs the same to reproduce the probabilities"
            )
    return backend, threads
