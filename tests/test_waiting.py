"""tests/support/waiting.py: a wait on a child ends as soon as the child exits."""

import subprocess
import sys
import time

import pytest

from tests.support.waiting import wait_until


def test_a_child_that_fails_ends_the_wait_at_once_with_its_stderr():
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"], stderr=subprocess.PIPE, text=True
    )
    start = time.monotonic()
    with pytest.raises(AssertionError, match="exited with status 3 before the checkpoint: boom"):
        wait_until(lambda: False, proc, "the checkpoint")
    assert time.monotonic() - start < 60  # not the hang limit


def test_a_point_reached_returns(tmp_path):
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", f"open({str(flag)!r}, 'w').close(); import time; time.sleep(60)"])
    try:
        wait_until(flag.exists, proc, "the flag")
    finally:
        proc.kill()
        proc.wait()


def test_what_the_child_did_last_counts(tmp_path):
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", f"open({str(flag)!r}, 'w').close()"])
    proc.wait()
    wait_until(flag.exists, proc, "the flag")
