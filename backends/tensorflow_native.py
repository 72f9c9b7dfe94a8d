"""The book's TensorFlow weights files (Keras' `.weights.h5`, an HDF5 file): read and written
with h5py, bounded before the C library sees the file.

HDF5 is a C library that parses whatever the file claims (addresses, sizes, B-trees,
filters, links to other files) and is not hardened against hostile input, so a file is
checked in three steps, and refused at the first that fails:
1. in Python, before h5py: a regular file of at most MAX_BYTES, whose superblock (parsed
   here, versions 0-3) sits at offset 0, uses 8-byte addresses and lengths, has base
   address 0 and claims an end of file within the file's real size (a truncated or
   padded-out file fails here);
2. with h5py, the tree is walked by hand, never through `visititems`: at most MAX_OBJECTS
   objects, MAX_DEPTH deep, hard links only (a soft or external link, which would open
   another file, is refused), groups and datasets only, and no attribute is read;
3. every dataset, before its data is read: floating point, little-endian, at most 2
   dimensions, no filter (compression could unpack past any bound), no external or virtual
   storage, and exactly as many bytes stored in the file as its shape claims -- so reading
   it allocates no more than the file holds.
The reading itself then runs in a child process (`python -m rnnlm.backends.tensorflow_native
PATH`), so that a crash or a hang of the C library on a file these checks let through is
one error line in the parent, never the parent's death; the child sends back its arrays in
a framed form the parent checks against the same bounds.

Nothing in the file is executed: `.weights.h5` holds arrays, and only arrays are read.
"""

import io
import os
import struct
import subprocess
import sys

import numpy as np

from rnnlm.errors import UsageError
from rnnlm.io.limits import regular_file_size

MAX_BYTES = 1 << 30
MAX_OBJECTS = 256
MAX_DEPTH = 12
MAX_DIM = 1 << 24
SECONDS = 60
SIGNATURE = b"\x89HDF\r\n\x1a\n"
_UNDEFINED = (1 << 64) - 1


def check_superblock(path):
    """Step 1 (see the module's docstring): the file's size and its superblock's claims."""
    size = regular_file_size(path, "weights file")
    if size > MAX_BYTES:
        raise UsageError(f"'{path}' is {size} bytes, more than the {MAX_BYTES} allowed")
    with open(path, "rb") as f:
        head = f.read(96)
    if not head.startswith(SIGNATURE) or len(head) < 12:
        raise UsageError(f"'{path}' is not an HDF5 file (no signature at offset 0)")
    version = head[8]
    if version in (0, 1):
        # version, free-space, root-symbol, reserved, shared-header versions, offsets, lengths
        offsets, lengths = head[13], head[14]
        at = 24 + (4 if version == 1 else 0)  # group K values, flags (v1: indexed-storage K)
    elif version in (2, 3):
        offsets, lengths = head[9], head[10]
        at = 12
    else:
        raise UsageError(f"'{path}': HDF5 superblock version {version}, which rnnlm does not read")
    if (offsets, lengths) != (8, 8):
        raise UsageError(
            f"'{path}': HDF5 addresses of {offsets} and lengths of {lengths} bytes (rnnlm reads 8-byte ones)"
        )
    if len(head) < at + 32:
        raise UsageError(f"'{path}' is a truncated HDF5 file")
    base, _, eof = struct.unpack_from("<QQQ", head, at)  # base, extension/free-space, end of file
    if base != 0:
        raise UsageError(f"'{path}': an HDF5 file behind a user block, which rnnlm does not read")
    if eof == _UNDEFINED or eof > size:
        raise UsageError(f"'{path}' claims {eof} bytes but holds {size}: a truncated HDF5 file")
    return size


def _check_dataset(path, name, d):
    """Step 3: what reading dataset `d` would allocate, against what the file stores."""
    import h5py

    dtype = d.dtype
    if dtype.kind != "f" or dtype.byteorder == ">" or dtype.itemsize not in (2, 4, 8):
        raise UsageError(f"'{path}': {name} holds {dtype}, not little-endian floating point")
    shape = d.shape
    if shape is None or len(shape) > 2 or any(n > MAX_DIM for n in shape):
        raise UsageError(f"'{path}': {name} has shape {shape}, not a weight's")
    plist = d.id.get_create_plist()
    if plist.get_nfilters() or plist.get_external_count() or plist.get_layout() == h5py.h5d.VIRTUAL:
        raise UsageError(
            f"'{path}': {name} is compressed or stored outside the file, which "
            "rnnlm does not read (Keras writes neither)"
        )
    claimed = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if d.id.get_storage_size() != claimed:
        raise UsageError(f"'{path}': {name} claims {claimed} bytes but stores {d.id.get_storage_size()}")


def walk(path, f):
    """Step 2 and 3: {path in the file: ndarray} of every dataset, the tree checked first."""
    import h5py

    found, seen = {}, [0]

    def visit(group, prefix, depth):
        if depth > MAX_DEPTH:
            raise UsageError(f"'{path}' nests groups more than {MAX_DEPTH} deep")
        for key in group.keys():
            seen[0] += 1
            if seen[0] > MAX_OBJECTS:
                raise UsageError(f"'{path}' holds more than {MAX_OBJECTS} objects: not a weights file")
            name = f"{prefix}{key}"
            if not isinstance(group.get(key, getlink=True), h5py.HardLink):
                raise UsageError(f"'{path}': {name} is a link to elsewhere, which rnnlm does not follow")
            item = group.get(key)
            if isinstance(item, h5py.Group):
                visit(item, name + "/", depth + 1)
            elif isinstance(item, h5py.Dataset):
                _check_dataset(path, name, item)
                found[name] = item
            else:
                raise UsageError(f"'{path}': {name} is neither a group nor a dataset")

    visit(f, "", 0)
    return {name: np.asarray(d[()]) for name, d in found.items()}


def read_here(path):
    """All three steps in this process: {path in the file: ndarray}."""
    import h5py

    check_superblock(path)
    try:
        with h5py.File(path, "r", locking=False) as f:
            return walk(path, f)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise UsageError(f"'{path}' is not a readable HDF5 file ({str(exc).splitlines()[0][:120]})") from None


# ---- the child process and its framed answer --------------------------------------------


def _frame(arrays):
    """name, dtype, shape, bytes of each array, length-prefixed."""
    out = io.BytesIO()
    out.write(struct.pack("<I", len(arrays)))
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        head = f"{name}\0{a.dtype.str}\0{','.join(map(str, a.shape))}".encode()
        out.write(struct.pack("<IQ", len(head), a.nbytes) + head + a.tobytes())
    return out.getvalue()


def _unframe(data, path, limit):
    """The arrays of `_frame`'s bytes, each claim checked against the bytes there and `limit`."""
    try:
        (count,), at, arrays = struct.unpack_from("<I", data), 4, {}
        if count > MAX_OBJECTS:
            raise ValueError("too many arrays")
        for _ in range(count):
            head_len, nbytes = struct.unpack_from("<IQ", data, at)
            at += 12
            name, dtype, shape = data[at : at + head_len].decode().split("\0")
            at += head_len
            dims = tuple(int(n) for n in shape.split(",") if n)
            dt = np.dtype(dtype)
            if (
                dt.kind != "f"
                or nbytes > limit
                or nbytes != int(np.prod(dims, dtype=np.int64)) * dt.itemsize
                or at + nbytes > len(data)
            ):
                raise ValueError(f"a bad claim for {name}")
            arrays[name] = np.frombuffer(data, dt, nbytes // dt.itemsize, at).reshape(dims).copy()
            at += nbytes
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"reading '{path}' gave a garbled answer ({exc})") from None
    return arrays


def read_weights(path):
    """{path in the file: ndarray} of a weights file, read in a child process (see above)."""
    size = check_superblock(path)  # the cheap refusals before a process starts
    try:
        done = subprocess.run(
            [sys.executable, "-m", __name__, os.path.abspath(path)],
            capture_output=True,
            timeout=SECONDS,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"reading '{path}' took more than {SECONDS} s: not a weights file") from None
    if done.returncode == 2:
        raise UsageError(
            (done.stderr.decode(errors="replace").strip().splitlines() or ["unreadable"])[-1].removeprefix("error: ")
        )
    if done.returncode != 0:
        raise UsageError(
            f"the HDF5 library failed on '{path}' (exit status {done.returncode}): a damaged or hostile file"
        )
    return _unframe(done.stdout, path, size)


def weights_bytes(arrays):
    """The bytes of an HDF5 file holding {path in the file: ndarray}; a path ending in '/'
    is an empty group (Keras writes `vars` groups for layers that own no variable)."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=True) as f:
        for name, a in arrays.items():
            if name.endswith("/"):
                f.require_group(name.rstrip("/"))
            else:
                f.create_dataset(name, data=np.ascontiguousarray(a))
    return buf.getvalue()


def _child(path):
    try:
        arrays = read_here(path)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(_frame(arrays))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
