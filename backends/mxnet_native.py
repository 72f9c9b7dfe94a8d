"""The book's MXNet checkpoints: a Gluon `.params` file (MXNet's NDArray-list format, not a
pickle), read and written here in NumPy, so no C++ loader ever sees an unchecked file and
neither direction needs mxnet installed.

The format, as MXNet 1.x's src/ndarray/ndarray.cc writes it (all little-endian):

    u64 0x112 (list magic), u64 reserved, u64 N, then N arrays, then u64 N', N' names
    array: u32 magic  0xF993FAC9 (V2, legacy shapes) | 0xF993FACA (V3, saved under npx.set_np())
           i32 storage type (0 dense), i32 ndim, i64 dims[ndim]     V2 ndim 0 / V3 ndim -1: empty
           i32 device type, i32 device id, i32 dtype flag, the data (C order)
    name:  u64 length, the UTF-8 bytes

Every count, length and shape is a claim: it is checked against the bytes the file really
has (and sane limits) before anything is allocated. Writing uses V2, which Gluon's
`load_parameters` reads with and without `npx.set_np()` (it falls back to legacy shapes).
Values cross as NumPy arrays; names are the caller's (see `rnnlm.model.names`).
"""

import os
import struct

import numpy as np

from rnnlm.errors import UsageError

LIST_MAGIC = 0x112
V2_MAGIC = 0xF993FAC9  # shapes as MXNet 1.x's legacy NDArray
V3_MAGIC = 0xF993FACA  # shapes in NumPy semantics (a 0-d array is a scalar)
MAX_ARRAYS = 100_000
MAX_NAME_BYTES = 4096
MAX_NDIM = 32  # MXNet's own limit
MAX_FILE_BYTES = 4 << 30
_STYPES = {0: "dense", 1: "row_sparse", 2: "csr", -1: "undefined"}
# mshadow's type flags; bfloat16 (12) has no NumPy dtype and is refused by name
_DTYPES = {
    0: np.float32,
    1: np.float64,
    2: np.float16,
    3: np.uint8,
    4: np.int32,
    5: np.int8,
    6: np.int64,
    7: np.bool_,
    8: np.int16,
    9: np.uint16,
    10: np.uint32,
    11: np.uint64,
}
_FLAGS = {np.dtype(t): flag for flag, t in _DTYPES.items()}
_MIN_ARRAY_BYTES = 16  # magic, storage type, ndim, nothing else: an empty array


class _Reader:
    """Little-endian fields of a byte string, each read refusing to run past its end."""

    def __init__(self, data, path):
        self.data, self.pos, self.path = data, 0, path

    def left(self):
        return len(self.data) - self.pos

    def take(self, n, what):
        if n > self.left():
            raise UsageError(
                f"'{self.path}' is not a readable MXNet .params file "
                f"(truncated: {what} needs {n} bytes, {self.left()} remain)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))


def _bad(path, reason):
    return UsageError(f"'{path}' is not a readable MXNet .params file ({reason})")


def _read_array(r, index):
    """(dtype flag, "dense", shape or None for an empty array, data bytes)."""
    (magic,) = r.unpack("I", f"array {index}")
    if magic not in (V2_MAGIC, V3_MAGIC):
        raise _bad(
            r.path,
            f"array {index} has magic 0x{magic:08x}, not MXNet 1.x's "
            f"0x{V2_MAGIC:08x} or 0x{V3_MAGIC:08x}; older formats are not read",
        )
    stype, ndim = r.unpack("ii", f"array {index}")
    if stype != 0:  # sparse layouts carry more headers; rnnlm's models are dense
        raise UsageError(
            f"'{r.path}': array {index} is {_STYPES.get(stype, f'storage type {stype}')}, not a dense array"
        )
    empty_ndim = 0 if magic == V2_MAGIC else -1
    if ndim == empty_ndim:
        return None, "dense", None, b""
    if not 0 <= ndim <= MAX_NDIM:
        raise _bad(r.path, f"array {index} claims {ndim} dimensions")
    shape = r.unpack(f"{ndim}q", f"array {index}'s shape")
    if any(d < 0 for d in shape):
        raise _bad(r.path, f"array {index} has shape {shape}")
    _, _, flag = r.unpack("iii", f"array {index}")
    if flag == 12:
        raise _bad(r.path, f"array {index} is bfloat16, which rnnlm does not read")
    if flag not in _DTYPES:
        raise _bad(r.path, f"array {index} has unknown dtype flag {flag}")
    nbytes = int(np.dtype(_DTYPES[flag]).itemsize) * int(np.prod(shape, dtype=object))
    return flag, "dense", shape, r.take(nbytes, f"array {index}'s {nbytes} data bytes")


def _read_names(r, count):
    (n,) = r.unpack("Q", "the name count")
    if n == 0:
        return None
    if n != count:
        raise _bad(r.path, f"{count} arrays but {n} names")
    names = []
    for i in range(n):
        (length,) = r.unpack("Q", f"name {i}'s length")
        if length > MAX_NAME_BYTES:
            raise _bad(r.path, f"name {i} claims {length} bytes")
        try:
            names.append(r.take(length, f"name {i}").decode("utf-8"))
        except UnicodeDecodeError:
            raise _bad(r.path, f"name {i} is not UTF-8") from None
    return names


def parse_params(data, path):
    """{name: ndarray as stored} of a .params file's bytes; anything else is a UsageError."""
    r = _Reader(data, path)
    magic, _ = r.unpack("QQ", "the header")
    if magic != LIST_MAGIC:
        raise _bad(path, f"list magic 0x{magic:x}, expected 0x{LIST_MAGIC:x}")
    (count,) = r.unpack("Q", "the array count")
    if count > MAX_ARRAYS or count * _MIN_ARRAY_BYTES > r.left():
        raise _bad(path, f"it claims {count} arrays in {len(data)} bytes")
    arrays = [_read_array(r, i) for i in range(count)]
    names = _read_names(r, count)
    if r.left():
        raise _bad(path, f"{r.left()} bytes after the last name")
    if names is None:
        raise UsageError(f"'{path}' holds {count} unnamed arrays, not a model's parameters")
    if len(set(names)) != len(names):
        raise _bad(path, "a name appears twice")
    out = {}
    for name, (flag, stype, shape, raw) in zip(names, arrays):
        if stype != "dense":
            raise UsageError(f"'{path}': tensor {name} is {stype}, not a dense array")
        if shape is None:
            raise UsageError(f"'{path}': tensor {name} is empty (an uninitialised parameter)")
        out[name] = np.frombuffer(raw, dtype=np.dtype(_DTYPES[flag]).newbyteorder("<")).reshape(shape)
    return out


def read_params(path):
    """{name: float32 or float64 ndarray} of a .params file; anything else is a UsageError."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"'{path}' is {size} bytes, more than the {MAX_FILE_BYTES} a .params file may have here")
        with open(path, "rb") as f:
            data = f.read(size + 1)  # never the limit: read(n) allocates n bytes up front
    except OSError as exc:
        raise UsageError(f"cannot read '{path}': {exc.strerror}") from None
    out = {}
    for name, array in parse_params(data, path).items():
        if array.dtype.kind != "f":
            raise UsageError(
                f"'{path}': tensor {name} has dtype {array.dtype.name}; model weights must be floating point"
            )
        out[name] = array.astype(np.float64 if array.dtype == np.float64 else np.float32)
    return out


def params_bytes(named):
    """The bytes `mx.nd.save` writes for {name: ndarray} (V2: loads with and without set_np)."""
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(named))]
    for array in named.values():
        a = np.ascontiguousarray(array)
        if a.dtype not in _FLAGS or a.ndim == 0:
            raise ValueError(f"cannot write a {a.dtype} array of shape {a.shape} as V2 .params")
        parts.append(struct.pack(f"<Iii{a.ndim}qiii", V2_MAGIC, 0, a.ndim, *a.shape, 1, 0, _FLAGS[a.dtype]))
        parts.append(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    parts.append(struct.pack("<Q", len(named)))
    for name in named:
        raw = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(raw)) + raw)
    return b"".join(parts)
