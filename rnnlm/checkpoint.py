"""Checkpoints: one `.npz` file, readable with `numpy.load(allow_pickle=False)`.

Entries: every weight under its canonical name (`rnn.weight_ih_l0`, ..., `linear.bias`),
plus `__meta__`, a JSON string: {"format": "rnnlm-checkpoint", "version": 1,
"model": ModelConfig, "vocab": idx_to_token, "dtype": ..., ...extra}. Writes are atomic:
a temporary file in the same folder, flushed and fsynced, then renamed over the target,
so a crash leaves either the old checkpoint or the new one, never half of one. A writer
killed mid-write leaves its temporary file (`.NAME.PID.tmp`), which is never read and is
removed by the next write or restart once that PID is gone.
"""

import glob
import json
import os
import tempfile
import zipfile

import numpy as np

from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError
from rnnlm.vocab import Vocab
from rnnlm.weights import check_weights

FORMAT = "rnnlm-checkpoint"
VERSION = 1
META_KEY = "__meta__"


def _temp_prefix(path):
    return f".{os.path.basename(path)}."


def atomic_write(path, write):
    """Call write(file object) on a temporary file, fsync it, then rename it to `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def save_checkpoint(path, cfg, vocab, weights, dtype, extra=None):
    meta = {"format": FORMAT, "version": VERSION, "model": cfg.to_dict(),
            "vocab": list(vocab.idx_to_token), "dtype": dtype, **(extra or {})}
    arrays = {name: np.asarray(w) for name, w in weights.items()}
    arrays[META_KEY] = np.array(json.dumps(meta))  # a unicode array, not an object array
    try:
        atomic_write(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise UsageError(f"cannot write checkpoint '{path}': {exc.strerror}") from None


def load_checkpoint(path):
    """(ModelConfig, Vocab, {name: array}, meta dict); any defect is a UsageError."""
    if not os.path.exists(path):
        raise UsageError(f"checkpoint '{path}' does not exist")
    if os.path.isdir(path):
        raise UsageError(f"checkpoint '{path}' is a directory")
    if not zipfile.is_zipfile(path):
        # np.load would otherwise try to read it as a pickle (and refuse, but say so oddly)
        raise UsageError(f"checkpoint '{path}' cannot be read: truncated or not a .npz file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        reason = "it holds object arrays, which rnnlm never unpickles" \
            if "allow_pickle" in str(exc) else "truncated or not a .npz file"
        raise UsageError(f"checkpoint '{path}' cannot be read: {reason}") from None
    if not all(isinstance(a, np.ndarray) for a in arrays.values()):
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint (non-array entries)")
    meta = _read_meta(path, arrays.pop(META_KEY, None))
    try:
        cfg = ModelConfig.from_dict(meta["model"])
        vocab = Vocab.from_tokens_list(meta["vocab"])
        check_weights(cfg, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"checkpoint '{path}' is inconsistent: {exc}") from None
    return cfg, vocab, arrays, meta


def read_meta(path):
    """The metadata of checkpoint `path` alone (the weights are not read); UsageError if bad."""
    try:
        with np.load(path, allow_pickle=False) as data:
            entry = data[META_KEY] if META_KEY in data.files else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"checkpoint '{path}' cannot be read: {exc}") from None
    return _read_meta(path, entry)


def _read_meta(path, entry):
    if entry is None or entry.dtype.kind != "U" or entry.shape != ():
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint (no metadata)")
    try:
        meta = json.loads(str(entry))
    except ValueError:
        raise UsageError(f"checkpoint '{path}' has unreadable metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise UsageError(f"checkpoint '{path}' is not an rnnlm checkpoint")
    if meta.get("version") != VERSION:
        raise UsageError(f"checkpoint '{path}' has format version {meta.get('version')!r}; "
                         f"this rnnlm reads version {VERSION}")
    return meta
