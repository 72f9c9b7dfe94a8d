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
