"""The binary fields of a version-5 header: what JSON spelled out at a byte or more per item,
written in as few bytes as a reader can still check.

    varint      LEB128: 7 bits a byte, low first, at most 9 bytes (below 2**63)
    vocabulary  kind byte 0: none; 1: a set of code points as a bitmap from `low`
                (varint low, varint bitmap bytes, the bitmap: bit i of byte j is low + 8j + i),
                for a vocabulary in code point order; 2: varint length, then UTF-8 (lone
                surrogates kept), for one in any other order (a model's, commonest first)
    checksums   varint 0: none; else varint count + 1, then 2 bytes each, little-endian

Every reader takes (bytes, offset) and returns (value, next offset), raising ValueError on
anything short, overlong or out of range; the caller turns that into one `error:` line.
"""

import struct

from rnnlm.compression.entropy import MAX_CODE_POINT

VARINT_MAX_BYTES = 9
NO_VOCAB, BITMAP, TEXT = 0, 1, 2


def put_varint(value):
    if not 0 <= value < 1 << (7 * VARINT_MAX_BYTES):
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def get_varint(data, at):
    value = 0
    for i in range(VARINT_MAX_BYTES):
        if at + i >= len(data):
            raise ValueError("varint cut short")
        byte = data[at + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i and not byte:
                raise ValueError("varint overlong")  # one value, one spelling
            return value, at + i + 1
    raise ValueError("varint too long")


def put_vocab(vocab):
    """The vocabulary string (None: none) as its smallest spelling."""
    if vocab is None:
        return bytes([NO_VOCAB])
    text = vocab.encode("utf-8", "surrogatepass")
    points = [ord(c) for c in vocab]
    text_field = bytes([TEXT]) + put_varint(len(text)) + text
    if not points or any(b <= a for a, b in zip(points, points[1:])):
        return text_field
    low = points[0]
    bitmap = bytearray((points[-1] - low) // 8 + 1)
    for p in points:
        bitmap[(p - low) // 8] |= 1 << ((p - low) % 8)
    bitmap_field = bytes([BITMAP]) + put_varint(low) + put_varint(len(bitmap)) + bytes(bitmap)
    return min(bitmap_field, text_field, key=len)


def get_vocab(data, at, max_chars):
    """(the vocabulary string or None, next offset); at most `max_chars` characters."""
    if at >= len(data):
        raise ValueError("vocabulary cut short")
    kind, at = data[at], at + 1
    if kind == NO_VOCAB:
        return None, at
    if kind == TEXT:
        n, at = get_varint(data, at)
        if n > 4 * max_chars or at + n > len(data):
            raise ValueError("vocabulary cut short or too long")
        text = bytes(data[at : at + n]).decode("utf-8", "surrogatepass")  # UnicodeDecodeError is a ValueError
        if len(text) > max_chars:
            raise ValueError("vocabulary too long")
        return text, at + n
    if kind == BITMAP:
        low, at = get_varint(data, at)
        n, at = get_varint(data, at)
        if not 0 < n <= -(-MAX_CODE_POINT // 8) or low + 8 * n > MAX_CODE_POINT + 7 or at + n > len(data):
            raise ValueError("vocabulary bitmap out of range")
        bitmap = data[at : at + n]
        points = [low + 8 * j + i for j, byte in enumerate(bitmap) if byte for i in range(8) if byte >> i & 1]
        if len(points) > max_chars or not points or points[-1] >= MAX_CODE_POINT or not bitmap[0] & 1:
            raise ValueError("vocabulary bitmap out of range")  # the bitmap starts at its lowest code point
        return "".join(map(chr, points)), at + n
    raise ValueError(f"unknown vocabulary kind {kind}")


def put_checks(checks):
    """The checksums (None: none recorded) as a count plus one, then 2 bytes each."""
    if checks is None:
        return put_varint(0)
    return put_varint(len(checks) + 1) + struct.pack(f"<{len(checks)}H", *checks)


def get_checks(data, at):
    """(the checksums or None, next offset)."""
    n, at = get_varint(data, at)
    if not n:
        return None, at
    n -= 1
    if at + 2 * n > len(data):
        raise ValueError("checksums cut short")
    return list(struct.unpack_from(f"<{n}H", data, at)), at + 2 * n
