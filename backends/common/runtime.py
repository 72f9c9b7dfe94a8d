"""How a framework is imported: with its OpenMP runtime waiting passively, and the variables
it reads once, when it loads, set for that moment only.

Speed beside other programs comes from how idle threads wait, which changes no bits: OpenMP
threads that spin at the end of every small parallel operation, while the one they wait for
is descheduled, collapse beside a busy process (measured in benchmarks/bench_load.py).
"""

import os
from contextlib import contextmanager
from typing import Iterator, Mapping, Optional


@contextmanager
def framework_environment(**variables: Optional[str]) -> Iterator[None]:
    """Import a framework inside this: its OpenMP runtime waits passively (unless the user
    chose OMP_WAIT_POLICY), and `variables` (None: removed) hold while it loads. Everything
    is put back afterwards, so no child process mistakes them for the user's settings."""
    wanted = dict(variables)
    if "OMP_WAIT_POLICY" not in os.environ:
        wanted["OMP_WAIT_POLICY"] = "PASSIVE"
    saved = {name: os.environ.get(name) for name in wanted}
    try:
        _apply(wanted)
        yield
    finally:
        _apply(saved)


def _apply(values: Mapping[str, Optional[str]]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_BYTES = 64 << 20


def keep_freed_memory() -> bool:
    """Let glibc serve blocks under 32 MiB from its heap and keep up to 64 MiB of it free for
    reuse, unless the user tuned malloc.

    By default glibc maps every block above 128 kiB fresh from the system and returns it when
    freed (its threshold adapts, but not to a step that frees and allocates blocks of many
    sizes), so each training step page-faults its (T, B, H) buffers back in: about 700 faults
    a step for the book's model, a quarter of the step on a 2-core EPYC VM
    (benchmarks/profile_step.py). Changes no bits. Returns whether it was applied."""
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES // 2) and mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
