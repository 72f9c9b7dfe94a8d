"""The file format of `rnnlm compress`: a small header, then the range coder's words.

    offset  size  field
    0       8     magic b"RNNLMZ\\r\\n" (the CR LF catches text-mode mangling, as PNG's does)
    8       1     format version (4; version 3 is read too)
    9       4     CRC32 of the original file
    13      8     length of the original file, in bytes
    21      8     length of the original text, in characters
    29      4     length M of the settings
    33      4     CRC32 of bytes 0-32 (the header above) and everything after this field
    37      M     settings: JSON (what the decoder must match: mode, backend, framework
                  versions, dtype, threads, segments, model config, fingerprint...), deflated
                  against a preset dictionary; version 4 writes only what differs from
                  SETTINGS_DEFAULTS ("~": the keys the defaults have and the settings lack),
                  against SETTINGS_DICTIONARY_4: 40-80 bytes where version 3 took 150-190
    37+M    4k    payload: the range coder's uint32 words, little-endian

All integers are little-endian. The file is treated as hostile: every length is checked
against the file's size and the limits below before it is used, and the CRC (header and
body, since version 2) rejects a truncated or altered file before any decoding starts; the
CRC32 of the original then checks the decoded text. The payload is never shorter than
MIN_BITS_PER_CHAR per character of the original (the encoder pads a payload below it with
zero words, which the range decoder reads as it reads the stream's end), so a file claiming
more characters than its payload can hold is refused before decoding: a 2 KB file cannot
claim 16 Mi characters and run the decoder for minutes. Older versions are refused with one line
(compress the original again): version 1's CRC left the header's lengths unchecked, version 2's
mix settings lack the match model and SSE that version 3's decoder runs. Version 4 differs from
3 only in how the settings are written (the same dict comes back), so a small file's header
no longer costs more than the context model gains over PPMd.
"""

import hashlib
import json
import struct
import zlib

import numpy as np

from rnnlm.errors import UsageError
from rnnlm.io.limits import loads_json

MAGIC = b"RNNLMZ\r\n"
VERSION = 4  # what pack writes
READS = (3, 4)  # what unpack reads
_FIXED = struct.Struct("<8sBIQQII")  # magic, version, crc, n_bytes, n_chars, settings len, crc
_CHECKED = _FIXED.size - 4  # the header bytes the CRC covers (all but the CRC itself)
MAX_SETTINGS = 1 << 20  # packed settings, and what they may unpack to
MAX_ORIGINAL_BYTES = 16 << 20  # what compress codes (decoding holds ~24 bytes per char)
MAX_FILE_BYTES = 8 * MAX_ORIGINAL_BYTES + MAX_SETTINGS + _FIXED.size
CHARS_PER_PAYLOAD_BIT = 32  # the floor: MIN_BITS_PER_CHAR = 1/32 bit per character
MIN_BITS_PER_CHAR = 1 / CHARS_PER_PAYLOAD_BIT
# zlib's preset dictionary for the settings: the keys and usual values of version 3's settings,
# so a header repeats them by reference (on the raw book, 8 segments, the header went from 576
# bytes, 0.026 bits/char, to 207; 168 at today's defaults, whose segments and threads it predates).
# Part of the format: a new dictionary needs a new version.
SETTINGS_DICTIONARY = (
    b'{"fingerprint":"","mode":"checkpoint","dtype":"float64","backend":"","framework":"",'
    b'"check_every":2048,"checks":[],"dtype":"float32","mix":{"context":{"add":2,"discount":12,'
    b'"discount2":18,"discount3":22,"exclusion":1,"limit":8192,"max_cells":16777216,"max_order":6},'
    b'"match":{"limit":4096,"min_len":10},"mixer":{"confidence_buckets":4,"final_lr":2,"lr":24,'
    b'"lr_boost":96,"match_weight":16384,"rnn_weight":26214,"third":1,"top_weight":39322},'
    b'"rnn":true,"sse":{"order":2,"rate":6,"weight":3}},"mode":"online","numpy":"1.26.4","online":'
    b'{"cell":"gru","chunk":16,"clip":1.0,"lr":0.01,"num_hiddens":256,"num_layers":1,'
    b'"optimizer":"adam","replay":1,"replay_batch":32,"replay_len":32,"seed":0},'
    b'"platform":"x86_64","revision":3,"segments":8,"threads":1,'
    b'"vocab":" etaonisrhldu\\ncmfwgyp,b.v'
    b"'k-IT;?!MHxqSAWj:EBz()_CDLNOPRFGY[]0123456789"
    b'"}'
)


# Version 4: the settings most files share, frozen with the format (not the code's defaults,
# which may change): a file writes only what differs from them. No framework's environment:
# a file of the context model alone has none.
SETTINGS_DEFAULTS = json.loads(
    '{"check_every":2048,"checks":[],"mix":{"context":{"add":2,"discount":12,'
    '"discount2":18,"discount3":22,"exclusion":1,"limit":8192,"max_cells":16777216,"max_order":6},'
    '"match":{"limit":4096,"min_len":10},"mixer":{"confidence_buckets":4,"final_lr":2,"lr":24,'
    '"lr_boost":96,"match_weight":16384,"rnn_weight":26214,"third":1,"top_weight":39322},'
    '"rnn":true,"sse":{"order":2,"rate":6,"weight":3}},"mode":"online","online":{"cell":"gru",'
    '"chunk":16,"clip":1.0,"lr":0.01,"num_hiddens":256,"num_layers":1,"optimizer":"adam",'
    '"replay":1,"replay_batch":32,"replay_len":32,"seed":0},"revision":3,"segments":32}'
)
# what is left to write: the environment, the vocabulary (sorted, for the context model alone;
# commonest first, for a model), the checksums; the most frequent last (deflate reaches them cheapest)
SETTINGS_DICTIONARY_4 = (
    b'{"backend":"","fingerprint":"","framework":"","mode":"checkpoint","numpy":"1.26.4",'
    b'"numpy":"2.","checks":[' + b'"dtype":"float32","mix":null,"platform":"x86_64","threads":1,'
    b'"vocab":" etaonisrhldu\\ncmfwgyp,b.v'
    b"'k-IT;?!MHxqSAWj:EBz()_CDLNOPRFGY[]0123456789"
    b'",'
    b'"threads":2,"vocab":" etaoinsrhl"},{"checks":[],"mix":{"rnn":false},"segments":1,'
    b'"vocab":"\\n !\\"' + bytes(range(0x23, 0x5C)) + b"\\\\" + bytes(range(0x5D, 0x7F)) + b'","~":["online"]}'
)


def _diff(settings, defaults):
    """What of `settings` differs from `defaults`, nested dicts by key; "~" lists the keys
    the defaults have and the settings lack."""
    out = {}
    gone = sorted(k for k in defaults if k not in settings)
    if gone:
        out["~"] = gone
    for k, v in settings.items():
        d = defaults.get(k, _MISSING)
        if isinstance(v, dict) and isinstance(d, dict):
            sub = _diff(v, d)
            if sub:
                out[k] = sub
        elif type(v) is not type(d) or v != d:
            out[k] = v
    return out


def _merged(diff, defaults):
    """The settings `_diff` was taken of; a ValueError for a "~" that is not a list of keys
    the defaults have."""
    out = dict(defaults)
    gone = diff.get("~", [])
    if not isinstance(gone, list) or not all(isinstance(k, str) and k in defaults for k in gone):
        raise ValueError("settings: a bad list of keys left out")
    for k in gone:
        del out[k]
    for k, v in diff.items():
        d = defaults.get(k, _MISSING)
        if k == "~":
            continue
        if isinstance(v, dict) and isinstance(d, dict):
            out[k] = _merged(v, d)
        else:
            out[k] = v
    return out


_MISSING = object()


def _crc(data_or_header, body):
    return zlib.crc32(body, zlib.crc32(data_or_header))


def floor_words(n_chars):
    """The fewest payload words a file of `n_chars` characters holds (MIN_BITS_PER_CHAR)."""
    return -(-n_chars // (32 * CHARS_PER_PAYLOAD_BIT))


def pack(original_crc, n_bytes, n_chars, settings, words, version=VERSION):
    """The bytes of a compressed file (the payload padded to the floor with zero words);
    `version` 3 for tests of what older files hold."""
    packed = _deflate(settings, version)
    words = np.asarray(words, dtype="<u4")
    padding = np.zeros(max(0, floor_words(n_chars) - len(words)), dtype="<u4")
    body = packed + words.tobytes() + padding.tobytes()
    header = _FIXED.pack(MAGIC, version, original_crc, n_bytes, n_chars, len(packed), 0)[:_CHECKED]
    return header + struct.pack("<I", _crc(header, body)) + body


def unpack(data, name):
    """(original crc, n_bytes, n_chars, settings dict, uint32 words) of a compressed file's
    bytes; anything wrong with them is a UsageError naming `name`."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise UsageError(f"'{name}' is not an rnnlm compressed file (no magic string)")
    if len(data) < _FIXED.size:
        raise UsageError(f"'{name}' is truncated (shorter than the header)")
    _, version, crc, n_bytes, n_chars, m, body_crc = _FIXED.unpack_from(data)
    if version not in READS:
        raise UsageError(
            f"'{name}' has format version {version}; this rnnlm reads versions "
            f"{' and '.join(map(str, READS))} only (compress the original again)"
        )
    body = data[_FIXED.size :]
    if m > MAX_SETTINGS or m > len(body) or (len(body) - m) % 4:
        raise UsageError(f"'{name}' is truncated or corrupt (lengths do not add up)")
    if _crc(data[:_CHECKED], body) != body_crc:
        raise UsageError(f"'{name}' is corrupt or truncated (checksum mismatch)")
    if not n_chars <= n_bytes <= 4 * n_chars:
        raise UsageError(f"'{name}' is corrupt (inconsistent lengths)")
    if n_bytes > MAX_ORIGINAL_BYTES:
        raise UsageError(f"'{name}' claims an original of {n_bytes} bytes; rnnlm codes at most {MAX_ORIGINAL_BYTES}")
    if (len(body) - m) // 4 < floor_words(n_chars):
        raise UsageError(
            f"'{name}' is corrupt: it claims {n_chars} characters in {len(body) - m} bytes "
            f"of payload, below the floor of 1/{CHARS_PER_PAYLOAD_BIT} bit per character"
        )
    try:
        unpacker = zlib.decompressobj(zdict=SETTINGS_DICTIONARY if version == 3 else SETTINGS_DICTIONARY_4)
        raw = unpacker.decompress(body[:m], MAX_SETTINGS)  # bounded: a zlib bomb stops here
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise ValueError("settings too large or cut short")
        settings = loads_json(raw.decode(), f"the settings of '{name}'")
        if not isinstance(settings, dict):
            raise ValueError("settings: not an object")
        if version == 4:
            settings = _merged(settings, SETTINGS_DEFAULTS)
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (unreadable settings)") from None
    words = np.frombuffer(body[m:], dtype="<u4").astype(np.uint32)
    return crc, n_bytes, n_chars, settings, words


def _deflate(settings, version=VERSION):
    """A zlib stream (it names its preset dictionary, so a reader with another one stops)."""
    if version == 4:
        settings, dictionary = _diff(settings, SETTINGS_DEFAULTS), SETTINGS_DICTIONARY_4
    else:
        dictionary = SETTINGS_DICTIONARY
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return packer.compress(json.dumps(settings, separators=(",", ":"), sort_keys=True).encode()) + packer.flush()


def header_size(settings):
    """Bytes the file spends besides the payload, for the size report."""
    return _FIXED.size + len(_deflate(settings))


def fingerprint(weights, meta):
    """A hash of a checkpoint's weights (names, dtypes, shapes, bytes) and metadata, hex."""
    h = hashlib.sha256()
    for name in sorted(weights):
        w = np.ascontiguousarray(weights[name])
        h.update(f"{name}|{w.dtype.str}|{w.shape}|".encode())
        h.update(w.tobytes())
    h.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()[:32]
