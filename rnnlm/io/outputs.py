"""Files a run writes: checked before the long work starts, written atomically after it.

A checkpoint, plot or metrics file whose folder is missing or read-only must cost seconds,
not a finished run; and a crash mid-write must leave the old file or the new one, never
half of one.

What is already at the path is never destroyed: a symlink is followed and its target
replaced (the link stays), a character device or FIFO (/dev/null, /dev/stdout, a pipe) is
written to directly, a block device or socket is refused, and so is a read-only file.
"""

import errno
import glob
import os
import stat
import tempfile
import time

from rnnlm.errors import UsageError


def _existing_mode(path):
    """st_mode of what `path` names after symlinks, or None when nothing is there."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def _read_only(path, mode):
    """No write permission for us, or none for anyone (root may write anyway; rnnlm does not)."""
    return not os.access(path, os.W_OK) or not mode & 0o222


def writes_directly(path):
    """True when `path` is a character device or FIFO: written in place, never replaced."""
    mode = _existing_mode(path)
    return mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode))


def check_writable(path, what):
    """UsageError unless `path` can be written without destroying what is there: created or
    replaced (its folder exists and is writable), or a device or FIFO written directly."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise UsageError(f"{what} '{path}' is a directory")
    mode = _existing_mode(path)
    if mode is None and os.path.islink(path):
        raise UsageError(f"{what} '{path}' is a symlink to nothing; rnnlm does not replace links")
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        if not os.access(path, os.W_OK):
            raise UsageError(f"{what} '{path}' is not writable")
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise UsageError(
            f"{what} '{path}' is not a regular file (a block device or socket); rnnlm does not write over it"
        )
    if mode is not None and _read_only(path, mode):
        raise UsageError(f"{what} '{path}' is read-only; rnnlm does not overwrite it")
    path = os.path.realpath(path)  # a symlink's target is what gets replaced
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise UsageError(f"{what} '{path}': folder '{folder}' does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{what} '{path}': folder '{folder}' is not writable")


FIFO_WAIT_SECONDS = 10  # for a reader to open an output FIFO


def _open_direct(path):
    """A device or FIFO opened for writing. A FIFO with no reader would block open() for
    ever, so it is opened non-blocking (ENXIO while no one reads), retried for
    FIFO_WAIT_SECONDS, then refused."""
    deadline = time.monotonic() + FIFO_WAIT_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    os.set_blocking(fd, True)  # a reader is there: write as to any file
    return os.fdopen(fd, "wb")


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
        pid = os.path.basename(tmp)[len(prefix) :].split(".", 1)[0]
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
    temporary file, or the mode of the file it replaces.

    A symlink's target is replaced, the link kept; a device or FIFO is written directly
    (there is nothing to keep whole); a read-only file is refused (EACCES)."""
    path = os.fspath(path)
    if writes_directly(path):
        try:
            f = _open_direct(path)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise OSError(errno.ENXIO, f"no process read the FIFO within {FIFO_WAIT_SECONDS} s") from None
            raise
        with f:
            write(f)
            f.flush()
        return
    path = os.path.realpath(path)
    mode = _existing_mode(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, "not a regular file; rnnlm does not write over it")
    if mode is not None and _read_only(path, mode):
        raise OSError(errno.EACCES, "read-only; rnnlm does not overwrite it")
    folder = os.path.dirname(path)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_bytes(path, data):
    """All of `data` at `path` or nothing (see `atomic_write`); a failure is one UsageError."""
    try:
        atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror}") from None
