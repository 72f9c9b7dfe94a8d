"""The exceptions the CLI turns into exit codes: UsageError (2) and TrainingDiverged (1)."""


class UsageError(Exception):
    """Bad input from the user: a flag, a file or a name. Never a bug in rnnlm."""


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the CLI exits 1 after keeping the last good checkpoint."""

    def __init__(self, epoch, perplexity):
        super().__init__(f"training diverged at epoch {epoch} (perplexity {perplexity}); "
                         "try a smaller --lr or --clip")
        self.epoch = epoch
        self.perplexity = perplexity
