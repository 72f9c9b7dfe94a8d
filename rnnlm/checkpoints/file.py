"""Checkpoints: one `.npz` file, readable with `numpy.load(allow_pickle=False)`.

Entries: every weight under its canonical name (`rnn.weight_ih_l0`, ..., `linear.bias`),
plus `__meta__`, a JSON string: {"format": "rnnlm-checkpoint", "version": 1,
"model": ModelConfig, "vocab": idx_to_token, "dtype": ..., ...extra}. Writes are atomic:
a temporary file in the same folder, flushed and fsynced, then renamed over the target,
so a crash leaves either the old checkpoint or the new one, never half of one (see
rnnlm.io.outputs for the temporary files of a writer killed mid-write).
"""

import io
import json
import os
import tokenize
import zipfile

import numpy as np

from rnnlm.checkpoints import schema
from rnnlm.errors import UsageError
from rnnlm.io.limits import check_npz_members, check_zip, loads_json, regular_file_size
from rnnlm.io.outputs import atomic_write
from rnnlm.data.vocab import Vocab

FORMAT = "rnnlm-checkpoint"
VERSION = 1
# what np.load raises on a damaged or hostile .npz (it parses old .npy headers with tokenize)
NPZ_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    zipfile.BadZipFile,
    KeyError,
    NotImplementedError,
    SyntaxError,
    tokenize.TokenError,
)
META_KEY = "__meta__"


def save_checkpoint(path, cfg, vocab, weights, dtype, extra=None):
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": cfg.to_dict(),
        "vocab": list(vocab.idx_to_token),
        "dtype": dtype,
        **(extra or {}),
    }
    arrays = {name: np.asarray(w) for name, w in weights.items()}
    arrays[META_KEY] = np.array(json.dumps(meta))  # a unicode array, not an object array
    buffer = io.BytesIO()  # np.savez leaves its zip open when a write fails: noise at exit
    np.savez(buffer, **arrays)
    try:
        atomic_write(path, lambda f: f.write(buffer.getbuffer()))
    except OSError as exc:
        raise UsageError(f"cannot write checkpoint '{path}': {exc.strerror}") from None


def load_checkpoint(path):
    """(ModelConfig, Vocab, {name: array}, meta dict); any defect is a UsageError."""
    if not os.path.exists(path):
        raise UsageError(f"checkpoint '{path}' does not exist")
    if os.path.isdir(path):
        raise UsageError(f"checkpoint '{path}' is a directory")
    regular_file_size(path, "checkpoint")
    if not zipfile.is_zipfile(path):
        fmt = checkpoint_format(path)
        if fmt is not None:
            return _load_foreign_checkpoint(path, fmt)
        # np.load would otherwise try to read it as a pickle (and refuse, but say so oddly)
        raise UsageError(f"checkpoint '{path}' cannot be read: truncated or not a .npz file")
    check_zip(path, "checkpoint")  # declared sizes against the real one, before numpy unpacks
    check_npz_members(path, "checkpoint")  # and each array's claimed shape
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except NPZ_READ_ERRORS as exc:
        reason = (
            "it holds object arrays, which rnnlm never unpickles"
            if "allow_pickle" in str(exc)
            else "truncated or not a .npz file"
        )
        raise UsageError(f"checkpoint '{path}' cannot be read: {reason}") from None
    if not all(isinstance(a, np.ndarray) for a in arrays.values()):
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint (non-array entries)")
    meta = _read_meta(path, arrays.pop(META_KEY, None))
    try:
        cfg = schema.model_config(meta, arrays)
        vocab = Vocab.from_tokens_list(schema.vocabulary(meta, cfg))
        schema.weights(cfg, arrays, schema.dtype_of(meta))
        schema.text_mode(meta)
        if "train" in meta or "rng_state" in meta:
            schema.training_state(meta)
    except schema.SchemaError as exc:
        raise UsageError(f"checkpoint '{path}' is inconsistent: {exc}") from None
    return cfg, vocab, arrays, meta


def checkpoint_format(path):
    """The registered file format other than .npz that `path` is and that carries a whole
    checkpoint (config and vocabulary with the weights), or None."""
    from rnnlm.backend import FORMATS, load_format

    with open(path, "rb") as f:
        head = f.read(16)
    return next(
        (name for name, spec in FORMATS.items() if spec.checkpoint and load_format(name).sniff(path, head)), None
    )


def _load_foreign_checkpoint(path, fmt):
    """A checkpoint in format `fmt` (e.g. `rnnlm export`'s graph file): its config and
    vocabulary from its metadata, its weights, through the same schema as a .npz's."""
    from rnnlm.backend import format_call

    model, vocab_list, weights, meta = format_call(fmt, "read_checkpoint", path)
    try:
        vocab = Vocab.from_tokens_list(schema.vocabulary({"vocab": vocab_list}, model))
        schema.weights(model, weights, schema.dtype_of(meta))
    except schema.SchemaError as exc:
        raise UsageError(f"checkpoint '{path}' is inconsistent: {exc}") from None
    return model, vocab, weights, meta


def read_meta(path):
    """The metadata of checkpoint `path` alone (the weights are not read); UsageError if bad."""
    regular_file_size(path, "checkpoint")
    check_zip(path, "checkpoint")
    check_npz_members(path, "checkpoint")
    try:
        with np.load(path, allow_pickle=False) as data:
            entry = data[META_KEY] if META_KEY in data.files else None
    except NPZ_READ_ERRORS as exc:
        raise UsageError(f"checkpoint '{path}' cannot be read: {str(exc)[:160]}") from None
    return _read_meta(path, entry)


def _read_meta(path, entry):
    if entry is None or entry.dtype.kind != "U" or entry.shape != ():
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint (no metadata)")
    meta = loads_json(str(entry), f"the metadata of checkpoint '{path}'")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint")
    if meta.get("version") != VERSION:
        raise UsageError(
            f"checkpoint '{path}' has format version {meta.get('version')!r}; this rnnlm reads version {VERSION}"
        )
    return meta
