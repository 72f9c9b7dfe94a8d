"""A compressed file's settings, read as the decoder needs them: every value checked (types,
ranges: the limits of `rnnlm.compression.config`, the one place they are written) before
anything is built or allocated; anything wrong is one UsageError naming the file."""

from dataclasses import dataclass, fields
from typing import Any, Optional

from rnnlm.compression import mixed
from rnnlm.compression.checksums import CHECK_EVERY, ColumnChecks
from rnnlm.compression.coder import layout
from rnnlm.compression.config import MAX_SEGMENTS, MODES, ONLINE_MAX_VOCAB, OnlineConfig
from rnnlm.config import ConfigError
from rnnlm.data.vocab import Vocab
from rnnlm.errors import UsageError


@dataclass(frozen=True)
class FileSettings:
    mode: str
    segments: int
    backend: Optional[str]  # None: the context model alone, no framework
    online: Optional[OnlineConfig]  # with its vocabulary, in online mode
    vocab: Optional[Vocab]
    mix: Optional[mixed.MixSettings]  # None: the RNN alone
    checks: ColumnChecks
    raw: Any  # the settings dict itself (environment, fingerprint)


def read_settings(settings, n_chars, name):
    """The FileSettings of the settings dict of a file of `n_chars` characters."""
    mode, segments = settings.get("mode"), settings.get("segments")
    if mode not in MODES or type(segments) is not int or not 0 < segments <= MAX_SEGMENTS:
        raise UsageError(f"'{name}' is corrupt (bad settings)")
    mix = _mix(settings, name)
    alone = mix is not None and not mix.rnn  # the context model alone needs no backend
    if not isinstance(settings.get("backend"), str) and not (alone and "backend" not in settings):
        raise UsageError(f"'{name}' is corrupt (bad settings)")
    if alone:
        vocab = _vocab(settings, name)
        online = None
    else:
        online, vocab = _online(settings, name) if mode == "online" else (None, None)
    return FileSettings(
        mode,
        segments,
        settings.get("backend"),
        online,
        vocab,
        mix,
        _checks(settings, layout(n_chars, segments)[1], name),
        settings,
    )


def _vocab(settings, name):
    tokens = settings.get("vocab")
    if not isinstance(tokens, str) or len(tokens) >= ONLINE_MAX_VOCAB or len(set(tokens)) != len(tokens):
        raise UsageError(f"'{name}' is corrupt (bad vocabulary)")
    return Vocab.from_tokens_list([Vocab.UNK] + list(tokens))


def _online(settings, name):
    try:
        raw = settings["online"]
        if isinstance(raw, dict) and "lag" not in raw:
            raw = dict(raw, lag=0)  # written before the lag existed: trained in line
        if not isinstance(raw, dict) or set(raw) != {f.name for f in fields(OnlineConfig)}:
            raise ValueError
        ocfg = OnlineConfig(**raw)
        vocab = _vocab(settings, name)
        ocfg.model_config(len(vocab))
    except ConfigError as exc:
        raise UsageError(f"'{name}' has --online settings out of range: {exc}") from None
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (bad --online settings)") from None
    return ocfg, vocab


def _mix(settings, name):
    if "mix" not in settings:
        return None
    try:
        return mixed.MixSettings.from_dict(settings["mix"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"'{name}' is corrupt (bad mix settings)") from None


def _checks(settings, columns, name):
    """The recorded checksums: one every CHECK_EVERY of the file's `columns`, all of them (a file
    without them would decode any payload to the end unchecked)."""
    checks = settings.get("checks", [])
    if (
        settings.get("check_every", CHECK_EVERY) != CHECK_EVERY
        or not isinstance(checks, list)
        or len(checks) != columns // CHECK_EVERY
        or not all(type(c) is int and 0 <= c < 1 << 16 for c in checks)
    ):
        raise UsageError(f"'{name}' is corrupt (bad checksums)")
    return ColumnChecks(checks)
