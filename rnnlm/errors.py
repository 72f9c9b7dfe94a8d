"""The one exception type the CLI turns into `error: ...` and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: a flag, a file or a name. Never a bug in rnnlm."""
