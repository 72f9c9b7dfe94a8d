"""SIGTERM as a stop request, the same as Ctrl-C.

Schedulers, `docker stop`, torchrun and Kubernetes send SIGTERM and expect the work to be
saved. The handler raises `Terminated`, a KeyboardInterrupt, so every path that saves on
Ctrl-C (the training run's last completed epoch, atomic writes cleaning up) saves on SIGTERM
too; the command line then exits 143 (128 + 15) instead of 130 (`rnnlm.cli.main.EXIT`).
"""

import signal
import threading
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as on Ctrl-C, exit 143."""


def stop_word(exc):
    """How the one line says it: 'terminated' (SIGTERM) or 'interrupted' (Ctrl-C)."""
    return "terminated" if isinstance(exc, Terminated) else "interrupted"


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the save short
    raise Terminated()


def ignore_stop_signals():
    """Once a stop has begun: neither Ctrl-C nor SIGTERM may end it in a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def sigterm_stops():
    """Within: SIGTERM raises Terminated (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def restored_stop_signals():
    """Within: whatever a stop does to SIGINT and SIGTERM (`ignore_stop_signals`) is undone on
    leaving, so an in-process caller (a test, a notebook) keeps its own handlers, and the
    programs it starts later do not inherit an ignored Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = [(sig, signal.getsignal(sig)) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        yield
    finally:
        for sig, handler in previous:
            if handler is not None:
                signal.signal(sig, handler)
