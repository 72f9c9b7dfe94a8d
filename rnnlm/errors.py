"""The one exception type the CLI turns into `error: ...` and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: a flag, a file or a name. Never a bug in rnnlm."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the CLI exits 1 after keeping the last good checkpoint."""

    def __init__(self, epoch, loss):
        super().__init__(f"training diverged at epoch {epoch} (perplexity {loss}); "
                         "try a smaller --lr or --clip")
        self.epoch = epoch
