"""What a file read by rnnlm may claim: sizes, counts and nesting checked against the bytes it
really has, before a library allocates what the claim asks for.

Every file is hostile until checked: a zip member may declare 4 TiB in a 2 MB archive (a zip
bomb), an .npy header may claim a shape no memory holds, a JSON string nested 100,000 deep
ends Python's json in a RecursionError. These checks make each of them one UsageError.
"""

import json
import lzma
import os
import stat
import tokenize
import zipfile
import zlib

import numpy as np

from rnnlm.errors import UsageError

MAX_UNPACKED_BYTES = 1 << 30  # what all members of one archive may unpack to, together
MAX_RATIO = 16  # unpacked / packed: torch.save and np.savez store, never compress
MAX_MEMBERS = 10_000
MAX_JSON_DEPTH = 64
MAX_NPY_DIMS = 32  # NumPy's own limit is 64; a weight has 1 or 2
MAX_NPY_COUNT = 1 << 62  # elements of one array, dims with zeros counted as ones (int64 headroom)
ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}  # what np.savez and torch.save write
# what a damaged member raises as it is read: zipfile's CRC check, zlib's and lzma's decoders
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


def regular_file_size(path, what):
    """The size of `path`, which must be a regular file (not a device, FIFO or socket)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {what} '{path}': {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise UsageError(f"{what} '{path}' is {kind}")
    return st.st_size


def check_zip(path, what):
    """UsageError unless the zip at `path` unpacks to a size its real size can account for."""
    size = regular_file_size(path, what)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise UsageError(f"{what} '{path}' is a truncated or damaged zip archive") from None
    if len(infos) > MAX_MEMBERS:
        raise UsageError(f"{what} '{path}' has {len(infos)} zip members, more than {MAX_MEMBERS}")
    total = 0
    for info in infos:
        if info.header_offset + info.compress_size > size:
            raise UsageError(
                f"{what} '{path}': zip member {info.filename!r} claims "
                f"{info.compress_size} bytes past the end of the file"
            )
        if info.flag_bits & 0x1:
            raise UsageError(
                f"{what} '{path}': zip member {info.filename!r} is encrypted; rnnlm reads plain archives only"
            )
        if info.compress_type not in ZIP_METHODS:
            raise UsageError(
                f"{what} '{path}': zip member {info.filename!r} uses compression method "
                f"{info.compress_type}; rnnlm reads {' or '.join(ZIP_METHODS.values())} only"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise UsageError(f"{what} '{path}': zip member {info.filename!r} claims two sizes")
        total += info.file_size
    limit = min(MAX_UNPACKED_BYTES, MAX_RATIO * size + 4096)
    if total > limit:
        raise UsageError(
            f"{what} '{path}' would unpack to {total} bytes from {size}, more than the {limit} allowed (a zip bomb?)"
        )
    verify_members(path, what)
    return infos


def verify_members(path, what):
    """Read every member once, so zipfile checks its CRC-32 and a damaged deflate stream is
    found here: a flipped bit in a tensor's bytes is refused, not imported. The sizes were
    bounded first, so this reads at most what check_zip allowed."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                with z.open(info) as f:
                    while f.read(1 << 20):
                        pass
    except ZIP_READ_ERRORS as exc:
        raise UsageError(f"{what} '{path}' is damaged: {str(exc)[:120] or type(exc).__name__}") from None


def check_npz_members(path, what):
    """UsageError unless every .npy member's header claims no more data than the member holds
    (np.load allocates the claimed shape before reading)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            try:
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version in ((2, 0), (3, 0)):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise ValueError(f"npy version {version}")
                    header = f.tell()
            except (
                ValueError,
                OSError,
                EOFError,
                zipfile.BadZipFile,
                SyntaxError,
                TypeError,
                RecursionError,
                MemoryError,
                zipfile.LargeZipFile,
                NotImplementedError,
                tokenize.TokenError,
                zlib.error,
                lzma.LZMAError,
            ) as exc:  # (NumPy parses old headers with tokenize)
                raise UsageError(
                    f"{what} '{path}': member {info.filename!r} is not a readable "
                    f"array ({str(exc)[:120] or type(exc).__name__})"
                ) from None
            _check_npy_header(path, what, info.filename, shape, dtype)
            count = 1
            for d in shape:
                count *= d
            if dtype.hasobject:
                continue  # np.load(allow_pickle=False) refuses these with its own message
            if header + count * _itemsize(dtype) > info.file_size:
                raise UsageError(
                    f"{what} '{path}': member {info.filename!r} claims shape {shape} "
                    f"of {dtype}, more than its {info.file_size} bytes hold"
                )


def _itemsize(dtype):
    """Bytes per element, computed here: NumPy's own figure for `<U2000000000` wraps around."""
    if dtype.kind == "U":
        return 4 * int(dtype.str[2:] or 0)
    if dtype.kind in "SV" and dtype.names is None and dtype.subdtype is None:
        return int(dtype.str[2:] or 0)
    return dtype.itemsize


def _check_npy_header(path, what, member, shape, dtype):
    """The header's fields typed: a shape of non-negative integers (not `True`), not too many."""
    if (
        not isinstance(shape, tuple)
        or len(shape) > MAX_NPY_DIMS
        or not all(type(d) is int and 0 <= d <= MAX_NPY_COUNT for d in shape)
    ):
        raise UsageError(
            f"{what} '{path}': member {member!r} has shape {str(shape)[:80]}, not up to "
            f"{MAX_NPY_DIMS} non-negative integers"
        )
    nonzero = 1
    for d in shape:  # NumPy multiplies the shape in int64 (a zero among 2**100s is no excuse)
        nonzero *= max(d, 1)
    if nonzero > MAX_NPY_COUNT:
        raise UsageError(
            f"{what} '{path}': member {member!r} has shape {str(shape)[:80]}, more elements than any array holds"
        )
    if not dtype.hasobject and (dtype.itemsize < 0 or _itemsize(dtype) < 0):
        raise UsageError(f"{what} '{path}': member {member!r} has dtype {dtype}, which has no size")


def json_depth(text):
    """The deepest nesting of [ and { in JSON text (strings skipped), in one linear pass."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def loads_json(text, what):
    """json.loads, refusing nesting deeper than MAX_JSON_DEPTH with one UsageError."""
    if json_depth(text) > MAX_JSON_DEPTH:
        raise UsageError(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise UsageError(f"{what} is not valid JSON") from None


def read_bounded(path, what, limit):
    """The bytes of the regular file `path`, refused (before reading) above `limit` bytes.
    A device or FIFO is refused, not read: /dev/zero never ends, a FIFO may never open."""
    if not os.path.lexists(path):
        raise UsageError(f"{what} '{path}' does not exist")
    size = regular_file_size(path, what)
    if size > limit:
        raise UsageError(f"{what} '{path}' is {size} bytes; rnnlm reads at most {limit} ({limit >> 20} MiB)")
    try:
        with open(path, "rb") as f:
            data = f.read(min(size, limit) + 1)  # read(n) allocates n bytes up front
    except OSError as exc:
        raise UsageError(f"cannot read {what} '{path}': {exc.strerror}") from None
    if len(data) > limit:  # it grew since stat
        raise UsageError(f"{what} '{path}' is over {limit} bytes; rnnlm reads at most {limit}")
    return data
