"""No output may be an input, nor two outputs one file: checked on the paths a command was
given, before any work, so `import x.pt --out x.pt` cannot turn the `.pt` into an `.npz` and
`--save X --plot X` cannot let one output overwrite the other.

Paths are compared after symlinks are resolved, and with `os.path.samefile` where both exist
(a hard link, or two spellings of one file). A character device (/dev/null) may take several
outputs: nothing is kept there to destroy.
"""

import os
import stat

from rnnlm.errors import UsageError


def _is_char_device(path):
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def same_file(a, b):
    """True when paths `a` and `b` name one file (or would, once created)."""
    if os.path.exists(a) and os.path.exists(b):
        try:
            return os.path.samefile(a, b)
        except OSError:
            pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_distinct(inputs=(), outputs=()):
    """UsageError in one line when an output is one of the inputs, or two outputs are one
    file. `inputs`, `outputs`: (path, what) pairs, e.g. ("m.pt", "the input"); a pair whose
    path is None or empty is skipped (an option not given)."""
    inputs = [(os.fspath(p), what) for p, what in inputs if p]
    outputs = [(os.fspath(p), what) for p, what in outputs if p]
    for i, (out, out_what) in enumerate(outputs):
        for src, src_what in inputs:
            if same_file(out, src):
                raise UsageError(f"{out_what} '{out}' is {src_what} '{src}': rnnlm never writes over what it reads")
        if _is_char_device(out):
            continue
        for other, other_what in outputs[:i]:
            if same_file(out, other):
                raise UsageError(
                    f"{out_what} '{out}' and {other_what} '{other}' are one file: give each output its own path"
                )
