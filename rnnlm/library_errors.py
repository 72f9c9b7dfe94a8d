"""The reason a framework or C++ library gave, as one line for an `error:` message.

MXNet's errors begin with the text "Traceback (most recent call last):" and the C++ frames;
the reason is the `MXNetError: Check failed: ...` line further down. PyTorch and protobuf put
it first. Either way the user should read the library's reason, not its first line.
"""

_NOISE = ("Traceback (most recent call last)", 'File "', "Stack trace", "[bt]", "  ")
_MARKERS = ("MXNetError:", "Check failed:", "RuntimeError:", "Error:")


def library_reason(exc, limit=200):
    """One line: the library's own reason for `exc`, or the exception's type name."""
    lines = [line.rstrip() for line in str(exc).splitlines() if line.strip()]
    for marker in _MARKERS:
        for line in lines:
            if marker in line:
                return _clip(line[line.index(marker) :].removeprefix("MXNetError: "), limit)
    for line in lines:
        if not line.startswith(_NOISE):
            return _clip(line.strip(), limit)
    return type(exc).__name__


def _clip(line, limit):
    return line if len(line) <= limit else line[: limit - 3] + "..."
