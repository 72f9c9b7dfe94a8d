"""Issue 28's findings end-to-end (tests/support/issue28_probe.py): each `python -m rnnlm` process
limited to 60 s and 3 GB ends in one `error:` line with exit 2, or is accepted, and leaves every
input byte-identical. Slow: some fifty processes, each importing a framework."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_every_issue_28_finding_is_one_line_or_accepted(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.issue28_probe", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
