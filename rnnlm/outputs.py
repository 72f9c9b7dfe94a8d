"""Files a run writes: checked before the long work starts, written atomically after it.

A checkpoint, plot or metrics file whose folder is missing or read-only must cost seconds,
not a finished run; and a crash mid-write must leave the old file or the new one, never
half of one.
"""

import os
import tempfile

from rnnlm.errors import UsageError


def check_writable(path, what):
    """UsageError unless `path` can be created or replaced (its folder exists and is writable)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{what} '{path}' is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{what} '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what} '{path}': folder '{folder}' is not writable")


def check_outputs(run_opts):
    """Every output path of a training run, and matplotlib when a plot is asked for."""
    for path, what in ((run_opts.save, "checkpoint"), (run_opts.plot, "plot"),
                       (run_opts.metrics_json, "metrics")):
        if path:
            check_writable(path, what)
    if run_opts.plot:
        from rnnlm.plot import require_matplotlib
        require_matplotlib()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call write(file object) on a temporary file, fsync it, then rename it to `path`.

    The file gets the mode a plain open() would give it (0666 less the umask), not the
    0600 of a temporary file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
