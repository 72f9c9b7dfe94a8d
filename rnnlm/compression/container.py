"""The file format of `rnnlm compress`: a small header, then the range coder's words.

Version 5 (what `pack` writes):

    offset  size  field
    0       8     magic b"RNNLMZ\\r\\n" (the CR LF catches text-mode mangling, as PNG's does)
    8       1     format version (5; versions 3 and 4 are read too)
    9       4     CRC32 of the original file
    13      1     flags: bit 0, the original's length in bytes is its length in characters
                  (not written); bits 1-2, the preset its settings are written against (0: a
                  model's, 1: the context model alone's); the rest 0
    14      var   length of the original text, in characters (varint: `header_fields`)
            var   length of the original file, in bytes, unless flag bit 0
            var   length M of the settings block
            4     CRC32 of everything before this field and everything after it
            M     settings block: the vocabulary and the checksums (binary, `header_fields`),
                  then what else of the settings differs from the preset's (JSON, raw deflate
                  against SETTINGS_DICTIONARY_4; nothing when nothing differs)
            4k-t  payload: the range coder's uint32 words, little-endian, less the last word's
                  trailing zero bytes (t <= 3; the reader puts them back)

Versions 3 and 4 (read, and written for tests): the same magic and version byte, then the
CRC32 of the original (4), its lengths in bytes and characters (8 + 8), M (4), the CRC32 of
the rest (4), the settings (JSON, zlib against a preset dictionary; version 4 writes only what
differs from SETTINGS_DEFAULTS, "~" listing the keys the defaults have and the settings lack)
and whole words of payload.

All integers are little-endian. The file is treated as hostile: every length is checked
against the file's size and the limits below before it is used, and the CRC (header and
body) rejects a truncated or altered file before any decoding starts; the CRC32 of the
original then checks the decoded text. The payload is never shorter than
MIN_BITS_PER_CHAR per character of the original (the encoder pads a payload below it with
zero words, which the range decoder reads as it reads the stream's end), so a file claiming
more characters than its payload can hold is refused before decoding: a 2 KB file cannot
claim 16 Mi characters and run the decoder for minutes. Older versions are refused with one line
(compress the original again): version 1's CRC left the header's lengths unchecked, version 2's
mix settings lack the match model and SSE that version 3's decoder runs. Version 5 differs from
4 only in how the header is written (the same settings come back): a short text's header
went from 83-101 bytes to about 40, which on a 3 kB text is 0.15 bits per character.
"""

import hashlib
import json
import struct
import zlib

import numpy as np

from rnnlm.compression import header_fields as fields
from rnnlm.compression.config import ONLINE_MAX_VOCAB
from rnnlm.errors import UsageError
from rnnlm.io.limits import loads_json

MAGIC = b"RNNLMZ\r\n"
VERSION = 5  # what pack writes
READS = (3, 4, 5)  # what unpack reads
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

# Version 5's presets, frozen with the format as version 4's are: a model's settings (version
# 4's, the checksums written apart) and the context model alone's, at coding revision 5, then
# the same two at revision 6 (appended: a file names its preset by index, in two bits of its
# flags, so a later revision needs a new version).
_MODEL_PRESET = {k: v for k, v in SETTINGS_DEFAULTS.items() if k != "checks"}
_MODEL_PRESET["revision"] = 5
_MODEL_PRESET["online"] = dict(_MODEL_PRESET["online"], lag=1)
_CONTEXT_PRESET = {
    "check_every": 2048,
    "mix": dict(
        SETTINGS_DEFAULTS["mix"],
        mixer=dict(SETTINGS_DEFAULTS["mix"]["mixer"], final_lr=0, lr_boost=48),
        rnn=False,
        sse=dict(SETTINGS_DEFAULTS["mix"]["sse"], rate=5),
    ),
    "mode": "online",
    "revision": 5,
    "segments": 1,
}
PRESETS_5 = tuple(dict(preset, revision=revision) for revision in (5, 6) for preset in (_MODEL_PRESET, _CONTEXT_PRESET))
_FIXED_5 = struct.Struct("<8sBIB")  # magic, version, the original's CRC32, flags
_FLAG_ASCII_WIDTH, _PRESET_SHIFT, _PRESET_MASK = 1, 1, 0b110


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
    `version` 3 or 4 for tests of what older files hold."""
    words = np.asarray(words, dtype="<u4")
    padding = np.zeros(max(0, floor_words(n_chars) - len(words)), dtype="<u4")
    payload = words.tobytes() + padding.tobytes()
    if version == 5:
        # the last word's trailing zero bytes, which the reader restores (never below the floor)
        keep = max(len(payload.rstrip(b"\0")), 4 * floor_words(n_chars), len(payload) - 3)
        return assemble(original_crc, n_bytes, n_chars, settings_block(settings), payload[:keep])
    packed = _deflate(settings, version)
    body = packed + payload
    header = _FIXED.pack(MAGIC, version, original_crc, n_bytes, n_chars, len(packed), 0)[:_CHECKED]
    return header + struct.pack("<I", _crc(header, body)) + body


def assemble(original_crc, n_bytes, n_chars, block, payload):
    """A version-5 file of a (preset, settings block) and the payload's bytes."""
    preset, block = block
    flags = (preset << _PRESET_SHIFT) | (_FLAG_ASCII_WIDTH if n_bytes == n_chars else 0)
    prefix = _FIXED_5.pack(MAGIC, 5, original_crc, flags) + fields.put_varint(n_chars)
    if n_bytes != n_chars:
        prefix += fields.put_varint(n_bytes)
    prefix += fields.put_varint(len(block))
    body = block + payload
    return prefix + struct.pack("<I", _crc(prefix, body)) + body


def settings_block(settings):
    """(the preset, the version-5 settings block) of a settings dict: the vocabulary and the
    checksums in binary, the rest as its difference from the preset that makes it shortest."""
    rest = dict(settings)
    vocab, checks = rest.pop("vocab", None), rest.pop("checks", None)
    if vocab is not None and not isinstance(vocab, str):
        raise TypeError("settings: the vocabulary is a string")
    binary = fields.put_vocab(vocab) + fields.put_checks(checks)
    preset, json_part = min(
        ((i, _raw_deflate(_diff(rest, defaults))) for i, defaults in enumerate(PRESETS_5)),
        key=lambda choice: len(choice[1]),
    )
    return preset, binary + json_part


def _raw_deflate(diff):
    """The JSON of `diff`, raw deflate against SETTINGS_DICTIONARY_4; nothing for nothing."""
    if not diff:
        return b""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, SETTINGS_DICTIONARY_4)
    return packer.compress(json.dumps(diff, separators=(",", ":"), sort_keys=True).encode()) + packer.flush()


def _inflate(data, dictionary, name, wbits=15):
    """The JSON object deflated in `data`, bounded (a zlib bomb stops at MAX_SETTINGS)."""
    unpacker = zlib.decompressobj(wbits=wbits, zdict=dictionary)
    raw = unpacker.decompress(data, MAX_SETTINGS)
    if unpacker.unconsumed_tail or not unpacker.eof or unpacker.unused_data:
        raise ValueError("settings too large or cut short")
    settings = loads_json(raw.decode(), f"the settings of '{name}'")
    if not isinstance(settings, dict):
        raise ValueError("settings: not an object")
    return settings


def unpack(data, name):
    """(original crc, n_bytes, n_chars, settings dict, uint32 words) of a compressed file's
    bytes; anything wrong with them is a UsageError naming `name`."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise UsageError(f"'{name}' is not an rnnlm compressed file (no magic string)")
    if len(data) < len(MAGIC) + 1:
        raise UsageError(f"'{name}' is truncated (shorter than the header)")
    version = data[len(MAGIC)]
    if version not in READS:
        raise UsageError(
            f"'{name}' has format version {version}; this rnnlm reads versions "
            f"{', '.join(map(str, READS[:-1]))} and {READS[-1]} only (compress the original again)"
        )
    if version == 5:
        crc, n_bytes, n_chars, head, body, block, payload = _split_5(data, name)
    else:
        if len(data) < _FIXED.size:
            raise UsageError(f"'{name}' is truncated (shorter than the header)")
        _, _, crc, n_bytes, n_chars, m, body_crc = _FIXED.unpack_from(data)
        head, body = data[:_CHECKED], data[_FIXED.size :]
        if m > MAX_SETTINGS or m > len(body) or (len(body) - m) % 4:
            raise UsageError(f"'{name}' is truncated or corrupt (lengths do not add up)")
        block, payload = body[:m], body[m:]
    if _crc(head, body) != struct.unpack_from("<I", data, len(head))[0]:
        raise UsageError(f"'{name}' is corrupt or truncated (checksum mismatch)")
    if not n_chars <= n_bytes <= 4 * n_chars:
        raise UsageError(f"'{name}' is corrupt (inconsistent lengths)")
    if n_bytes > MAX_ORIGINAL_BYTES:
        raise UsageError(f"'{name}' claims an original of {n_bytes} bytes; rnnlm codes at most {MAX_ORIGINAL_BYTES}")
    if len(payload) < 4 * floor_words(n_chars):
        raise UsageError(
            f"'{name}' is corrupt: it claims {n_chars} characters in {len(payload)} bytes "
            f"of payload, below the floor of 1/{CHARS_PER_PAYLOAD_BIT} bit per character"
        )
    try:
        if version == 5:
            settings = _settings_5((data[_FIXED_5.size - 1] & _PRESET_MASK) >> _PRESET_SHIFT, block, name)
        else:
            settings = _inflate(block, SETTINGS_DICTIONARY if version == 3 else SETTINGS_DICTIONARY_4, name)
            if version == 4:
                settings = _merged(settings, SETTINGS_DEFAULTS)
    except (zlib.error, UnicodeDecodeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (unreadable settings)") from None
    payload += bytes(-len(payload) % 4)
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    return crc, n_bytes, n_chars, settings, words


def _split_5(data, name):
    """(crc, n_bytes, n_chars, what the header's CRC covers before it, after it, the settings
    block, the payload) of a version-5 file; a UsageError where its lengths do not add up."""
    try:
        if len(data) < _FIXED_5.size:
            raise ValueError("short")
        _, _, crc, flags = _FIXED_5.unpack_from(data)
        if flags & ~(_FLAG_ASCII_WIDTH | _PRESET_MASK) or (flags & _PRESET_MASK) >> _PRESET_SHIFT >= len(PRESETS_5):
            raise ValueError("flags")
        n_chars, at = fields.get_varint(data, _FIXED_5.size)
        n_bytes = n_chars
        if not flags & _FLAG_ASCII_WIDTH:
            n_bytes, at = fields.get_varint(data, at)
        m, at = fields.get_varint(data, at)
    except ValueError:
        raise UsageError(f"'{name}' is truncated or corrupt (unreadable header)") from None
    body = data[at + 4 :]
    if len(data) < at + 4 or m > MAX_SETTINGS or m > len(body):
        raise UsageError(f"'{name}' is truncated or corrupt (lengths do not add up)")
    return crc, n_bytes, n_chars, data[:at], body, body[:m], body[m:]


def _settings_5(preset, block, name):
    """The settings dict of a version-5 settings block (a ValueError if it is malformed)."""
    vocab, at = fields.get_vocab(block, 0, ONLINE_MAX_VOCAB)
    checks, at = fields.get_checks(block, at)
    rest = block[at:]
    settings = _merged(_inflate(rest, SETTINGS_DICTIONARY_4, name, -15) if rest else {}, PRESETS_5[preset])
    if vocab is not None:
        settings["vocab"] = vocab
    if checks is not None:
        settings["checks"] = checks
    return settings


def _deflate(settings, version=VERSION):
    """A zlib stream (it names its preset dictionary, so a reader with another one stops)."""
    if version == 4:
        settings, dictionary = _diff(settings, SETTINGS_DEFAULTS), SETTINGS_DICTIONARY_4
    else:
        dictionary = SETTINGS_DICTIONARY
    packer = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, dictionary)
    return packer.compress(json.dumps(settings, separators=(",", ":"), sort_keys=True).encode()) + packer.flush()


def header_size(settings, n_bytes, n_chars, version=VERSION):
    """Bytes a file of `version` spends besides the payload, for the size report."""
    if version == 5:
        return len(assemble(0, n_bytes, n_chars, settings_block(settings), b""))
    return _FIXED.size + len(_deflate(settings, version))


def fingerprint(weights, meta):
    """A hash of a checkpoint's weights (names, dtypes, shapes, bytes) and metadata, hex."""
    h = hashlib.sha256()
    for name in sorted(weights):
        w = np.ascontiguousarray(weights[name])
        h.update(f"{name}|{w.dtype.str}|{w.shape}|".encode())
        h.update(w.tobytes())
    h.update(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()[:32]
