"""One training run as `rnnlm train` performs it: fresh or resumed, with validation,
progress, periodic atomic checkpoints, Ctrl-C and divergence handling.

Resuming is exact: a checkpoint written after epoch k holds the weights, the batch-order
Generator's state and the history at that point, and SGD without momentum has no other
state, so epochs k+1.. replay exactly as in an uninterrupted run.
"""

import dataclasses
import os
import time

import numpy as np

from rnnlm import distributed
from rnnlm.batches import check_corpus_length
from rnnlm.backend import build_model
from rnnlm.checkpoint import save_checkpoint
from rnnlm.errors import TrainingDiverged, UsageError
from rnnlm.metrics import train_metrics
from rnnlm.progress import Progress
from rnnlm.train import EpochStats, train
from rnnlm.weights import init_weights


def split_validation(corpus, fraction):
    """(train, validation): the last `fraction` of the token stream is held out."""
    if not fraction:
        return corpus, None
    if not 0.0 < fraction < 1.0:
        raise UsageError(f"--val-fraction must be between 0 and 1 (exclusive), got {fraction}")
    n_val = int(len(corpus) * fraction)
    return corpus[:len(corpus) - n_val], corpus[len(corpus) - n_val:]


class TrainingRun:
    def __init__(self, backend, device, mcfg, tcfg, vocab, corpus, val_fraction=0.0,
                 save=None, save_every=0, resume=None, corpus_path=None, complete_ok=False):
        """`resume`: (weights, checkpoint metadata) of the run to continue, whose settings
        `mcfg` and `tcfg` already are (see commands.resume_point); None starts afresh."""
        self.backend, self.device, self.vocab = backend, device, vocab
        self.save_path, self.save_every = save, save_every
        self.corpus_path = os.path.abspath(corpus_path) if corpus_path else None
        self.history, self.rng, self.seconds_before = [], np.random.default_rng(tcfg.seed), 0.0
        self.mcfg, self.tcfg, self.complete_ok = mcfg, tcfg, complete_ok
        weights = self._continue(*resume) if resume else init_weights(mcfg, tcfg.seed, tcfg.dtype)
        self.val_fraction = val_fraction
        self.corpus, self.val_corpus = split_validation(corpus, val_fraction)
        check_corpus_length(len(self.corpus), tcfg.batch_size, tcfg.num_steps, tcfg.iter,
                            "the training split")
        if self.val_corpus is not None:
            check_corpus_length(len(self.val_corpus), tcfg.batch_size, tcfg.num_steps, "eval",
                                "the validation split")
        self.model = build_model(backend, mcfg, device, tcfg.dtype, weights)
        self.last_good = None
        self.group = distributed.SINGLE
        if backend.group_requested(os.environ):
            self.group = distributed.Group(*backend.init_distributed(self.model))
            distributed.check_divisible(tcfg.batch_size, self.group.world_size)
            distributed.check_same_start(backend, self.model, len(self.history), self.group)
        if not self.group.is_main:
            self.save_path = None  # rank 0 alone writes checkpoints

    def _continue(self, weights, meta):
        """Take up the saved history and batch-order state; returns the saved weights."""
        if meta["vocab"] != self.vocab.idx_to_token:
            raise UsageError(f"checkpoint '{self.save_path}' was trained on text with another vocabulary "
                             "(has its corpus changed?)")
        self.history = [EpochStats(**h) for h in meta["history"]]
        self.rng.bit_generator.state = meta["rng_state"]
        self.seconds_before = meta.get("train_seconds", 0.0)
        if len(self.history) >= self.tcfg.epochs and not self.complete_ok:
            raise UsageError(f"checkpoint '{self.save_path}' is already at epoch {len(self.history)}; "
                             "ask for more --epochs to continue")
        return weights

    # ---- checkpoints ----------------------------------------------------------------------

    def _snapshot(self):
        """What a checkpoint of this moment holds (taken between epochs only)."""
        return {"weights": self.backend.get_weights(self.model),
                "extra": {"train": dataclasses.asdict(self.tcfg), "rng_state": self.rng.bit_generator.state,
                          "history": [dataclasses.asdict(h) for h in self.history],
                          "epoch": len(self.history), "val_fraction": self.val_fraction,
                          "corpus": self.corpus_path,
                          "backend": self.backend.NAME, "train_seconds": self._seconds()}}

    def _write(self, snapshot):
        save_checkpoint(self.save_path, self.mcfg, self.vocab, snapshot["weights"], self.tcfg.dtype,
                        extra=snapshot["extra"])

    def _seconds(self):
        return self.seconds_before + (time.perf_counter() - self.start)

    def _after_epoch(self, stats, history, rng):
        self.progress.update(stats)
        if self.save_path:
            self.last_good = self._snapshot()
            if self.save_every and stats.epoch % self.save_every == 0:
                self._write(self.last_good)

    # ---- the run --------------------------------------------------------------------------

    def run(self, quiet=False, sample=None):
        """Train to tcfg.epochs; returns the metrics dict. Saves at the end when asked.

        On Ctrl-C or divergence the last completed epoch is written (when saving) and the
        exception propagates for the CLI to report.
        """
        self.start = time.perf_counter()
        self.progress = Progress(self.tcfg.epochs, len(self.history) + 1,
                                 quiet or not self.group.is_main, sample)
        if self.save_path:
            self.last_good = self._snapshot()
        try:
            train(self.backend, self.model, self.corpus, self.tcfg, rng=self.rng, history=self.history,
                  on_epoch=self._after_epoch, val_corpus=self.val_corpus, group=self.group)
        except (KeyboardInterrupt, TrainingDiverged):
            if self.last_good is not None and self.last_good["extra"]["epoch"] > 0:
                self._write(self.last_good)
            raise
        finally:
            self.progress.close()
        if self.group.world_size > 1:
            self.backend.finish_distributed(self.model)
        if self.save_path:
            self._write(self.last_good)
        return train_metrics(self.backend.NAME, self.backend.device_name(self.device), self.mcfg,
                             self.tcfg, self.history, self._seconds(), self.group.world_size)
