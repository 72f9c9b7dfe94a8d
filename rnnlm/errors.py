"""The exceptions a command ends with, and the exit statuses of the command line.
`rnnlm.cli.main` alone turns the one into the other: UsageError 2, TrainingDiverged and
GroupFailed 1 (or the failed process's own status), Stopped and KeyboardInterrupt 130
(Ctrl-C) or 143 (SIGTERM). A launcher reads its workers' statuses by the same table."""

EXIT = {"ok": 0, "failed": 1, "usage": 2, "interrupted": 130, "broken_pipe": 141, "terminated": 143}


class UsageError(Exception):
    """Bad input from the user: a flag, a file or a name. Never a bug in rnnlm."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the CLI exits 1 after keeping the last good checkpoint."""

    def __init__(self, epoch, perplexity):
        super().__init__(f"training diverged at epoch {epoch} (perplexity {perplexity}); try a smaller --lr or --clip")
        self.epoch = epoch
        self.perplexity = perplexity
        self.kept = ""  # "; last good checkpoint kept in PATH", once the run has kept it


class GroupFailed(Exception):
    """A worker group broke: a peer died, or a process of the group failed. `line` is what
    to tell the user (None: someone else, the launcher, says it); `status` the failed
    process's exit status when it is to be passed on."""

    def __init__(self, line=None, status=None):
        super().__init__(line or "the worker group failed")
        self.line, self.status = line, status


class Stopped(Exception):
    """A stop request (Ctrl-C or SIGTERM: `request`, the KeyboardInterrupt) that the work
    obeyed and saved for; `line` says what was kept (None: say nothing, someone else does)."""

    def __init__(self, request, line=None):
        super().__init__(line or "stopped")
        self.request, self.line = request, line
