"""The checksums a decoder verifies as it goes: 16 bits of a running CRC32 of the coded
symbols every CHECK_EVERY columns, so a decoder whose probabilities drift stops within
CHECK_EVERY columns instead of emitting garbage."""

import zlib
from typing import Any

import numpy as np

CHECK_EVERY = 2048  # columns between two checksums


class Diverged(Exception):
    """The decoder's symbols so far differ from the encoder's (a checksum mismatch)."""

    def __init__(self, column, rows):
        super().__init__(column)
        self.column, self.rows = column, rows


class ColumnChecks:
    """A running CRC32 of the coded symbols, column by column; every CHECK_EVERY columns its low
    16 bits are recorded (encoder: `recorded` None) or compared with `recorded` (decoder)."""

    def __init__(self, recorded=None):
        self.recorded = recorded
        self.values: Any = [] if recorded is None else None
        self.crc = 0

    def after_column(self, t, column):
        self.crc = zlib.crc32(np.ascontiguousarray(column, dtype="<i4").tobytes(), self.crc)
        if (t + 1) % CHECK_EVERY:
            return
        value = self.crc & 0xFFFF
        if self.recorded is None:
            self.values.append(value)
        else:
            i = (t + 1) // CHECK_EVERY - 1
            if i < len(self.recorded) and self.recorded[i] != value:
                raise Diverged(t + 1 - CHECK_EVERY, len(column))


def diverged_message(name, exc):
    """The one line for a decoder stopped by a checksum (`exc`, a Diverged)."""
    return (
        f"'{name}' decodes differently than it was coded: the checksum after character "
        f"{exc.column + CHECK_EVERY} of each of its {exc.rows} segments differs (characters "
        f"{exc.column}-{exc.column + CHECK_EVERY - 1} of segment 1 on); this machine does not "
        "reproduce the encoder's probabilities; nothing written"
    )
