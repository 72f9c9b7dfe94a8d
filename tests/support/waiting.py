"""Waiting for a child process to reach a point (a checkpoint on disk, a stored run): the wait
ends when the child exits first, with its stderr in the failure, rather than at a deadline
that a failed child never meets. The limit only catches a child that hangs; it is long, so
a loaded machine slows a test but never fails it."""

import subprocess
import time

HANG_SECONDS = 1800


def stderr_of(proc):
    """What an exited child wrote on stderr (when it was piped)."""
    if proc.stderr is None:
        return "(stderr not captured)"
    try:
        _, err = proc.communicate(timeout=30)
    except (subprocess.TimeoutExpired, ValueError):
        return "(stderr unreadable)"
    err = err.decode(errors="replace") if isinstance(err, bytes) else (err or "")
    return err[-3000:]


def wait_until(reached, proc, what, poll=0.01, limit=HANG_SECONDS):
    """Return once `reached()` holds; AssertionError once `proc` has exited without it."""
    end = time.monotonic() + limit
    while not reached():
        if proc.poll() is not None:
            if reached():  # the child's last act
                return
            raise AssertionError(f"the child exited with status {proc.returncode} before {what}: {stderr_of(proc)}")
        if time.monotonic() > end:
            raise AssertionError(f"the child hung: no {what} after {limit} s")
        time.sleep(poll)
