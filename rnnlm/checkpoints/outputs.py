"""Files a run writes: checked before the long work starts, written atomically after it.

A checkpoint, plot or metrics file whose folder is missing or read-only must cost seconds,
not a finished run; and a crash mid-write must leave the old file or the new one, never
half of one.
"""

import glob
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
    for path, what in ((run_opts.save, "checkpoint"), (run_opts.save_best, "checkpoint"), (run_opts.plot, "plot"),
                       (run_opts.metrics_json, "metrics")):
        if path:
            check_writable(path, what)
    if run_opts.plot:
        from rnnlm.training.plot import require_matplotlib
        require_matplotlib()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_prefix(path):
    return f".{os.path.basename(path)}."


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_temps(path):
    """Delete the temporary files that killed writers of `path` left behind; returns them.
    A file whose writer still runs is left alone (it may be renamed any moment)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    removed = []
    for tmp in glob.glob(os.path.join(glob.escape(folder), glob.escape(prefix) + "*.tmp")):
        pid = os.path.basename(tmp)[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
            try:
                os.unlink(tmp)
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


def atomic_write(path, write):
    """Call write(file object) on a temporary file, fsync it, then rename it to `path`.

    The temporary file is `.NAME.PID.*.tmp` beside `path`: a writer killed mid-write leaves
    it behind, never read, and the next write removes it once that PID is gone. The file
    gets the mode a plain open() would give it (0666 less the umask), not the 0600 of a
    temporary file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=folder)
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
