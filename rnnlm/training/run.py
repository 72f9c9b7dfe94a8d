"""One training run as `rnnlm train` performs it: fresh or resumed, with validation,
progress, periodic atomic checkpoints, Ctrl-C and divergence handling.

Resuming is exact: a checkpoint written after epoch k holds the weights, the batch-order
Generator's state and the history at that point, and SGD without momentum has no other
state, so epochs k+1.. replay exactly as in an uninterrupted run.
"""

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Dict, List

import numpy as np

from rnnlm.distributed import group as distributed

from rnnlm import threads
from rnnlm.backend import SPECS, build_model
from rnnlm.checkpoints.file import read_meta, save_checkpoint
from rnnlm.config import DataConfig, ModelConfig, TrainConfig
from rnnlm.errors import TrainingDiverged, UsageError
from rnnlm.io.collisions import check_distinct
from rnnlm.io.outputs import check_writable
from rnnlm.training.metrics import train_metrics
from rnnlm.training.plot import require_matplotlib
from rnnlm.training.progress import Progress
from rnnlm.training.loop import EpochStats, train
from rnnlm.model.weights import init_weights


def check_outputs(run_opts, corpus=None):
    """Every output path of a training run: writable, none of them the corpus or another
    output, no finished checkpoint replaced unasked; and matplotlib when a plot is asked for."""
    outputs = (
        (run_opts.save, "--save"),
        (run_opts.save_best, "--save-best"),
        (run_opts.plot, "--plot"),
        (run_opts.metrics_json, "--metrics-json"),
    )
    check_distinct([(corpus, "the corpus")], outputs)
    for path, what in outputs:
        if path:
            check_writable(path, what)
    if run_opts.resume == "no" and not run_opts.overwrite:
        for path, what in outputs[:2]:
            refuse_existing_checkpoint(path, what)
    if run_opts.plot:
        require_matplotlib()


def refuse_existing_checkpoint(path, what):
    """A file already at a checkpoint path is another run's: kept unless the user resumes it
    or says --overwrite (a 1-epoch run must not silently replace a 500-epoch one)."""
    if not path or not os.path.isfile(path):
        return
    try:
        held = f"a checkpoint at epoch {read_meta(path).get('epoch', '?')}"
    except UsageError:
        held = "a file"
    raise UsageError(f"{what} '{path}' already holds {held}; continue it with --resume, or replace it with --overwrite")


def thread_choice(mcfg, tcfg, run_opts, resumed=None, spec=None, environ=None):
    """This run's thread count (rnnlm.threads.choose): the checkpoint's on resume, else
    --threads, else OMP_NUM_THREADS, else one chosen from the cores, the model's size and
    backend `spec`'s split_factor (None: 1)."""
    work = mcfg.step_work(tcfg.batch_size)
    recorded = resumed.meta.get("threads") if resumed is not None else None
    split = spec.split_factor if spec is not None else 1
    return threads.choose(
        run_opts.threads, recorded, environ, work=work, checkpoint=run_opts.save or "", split_factor=split
    )


@dataclass
class Resumed:
    """A saved run to continue: its configs replace the caller's (all but epochs)."""

    mcfg: ModelConfig
    tcfg: TrainConfig
    dcfg: DataConfig
    weights: Dict[str, np.ndarray]
    meta: Dict[str, Any]


class TrainingRun:
    def __init__(
        self, backend, device, mcfg, tcfg, dcfg, run_opts, vocab, corpus, val_corpus=None, resumed=None, counts=None
    ):
        """`corpus`, `val_corpus`: token ids (see rnnlm.data.dataset); `resumed`: the saved run to
        continue (whose configs the others already are), or None; `counts`: the run's thread
        choice (rnnlm.threads.Choice; None: `thread_choice` makes it here)."""
        self.backend, self.device, self.vocab = backend, device, vocab
        self.mcfg, self.tcfg, self.dcfg, self.opts = mcfg, tcfg, dcfg, run_opts
        self.save_path = run_opts.save
        self.corpus_path = os.path.abspath(dcfg.corpus) if dcfg.corpus else None
        self.history: List[EpochStats] = []
        self.rng, self.seconds_before = np.random.default_rng(tcfg.seed), 0.0
        self.resumed = resumed is not None
        weights = self._continue(resumed) if resumed else init_weights(mcfg, tcfg.seed, tcfg.dtype)
        self.corpus, self.val_corpus = corpus, val_corpus
        self.model = build_model(backend, mcfg, device, tcfg.dtype, weights)
        self.last_good = None
        self.group = distributed.SINGLE
        if backend.group_requested(os.environ):
            self.group = distributed.Group(*backend.init_distributed(self.model))
            distributed.check_divisible(tcfg.batch_size, self.group.world_size)
            distributed.check_same_start(backend, self.model, len(self.history), self.group)
        if not self.group.is_main:
            self.save_path = None  # rank 0 alone writes checkpoints
        self.threads = self._set_threads(counts or thread_choice(mcfg, tcfg, run_opts, resumed, SPECS[backend.NAME]))

    def _continue(self, resumed):
        """Take up the saved history and batch-order state; returns the saved weights."""
        meta = resumed.meta
        if meta["vocab"] != self.vocab.idx_to_token:
            raise UsageError(
                f"checkpoint '{self.save_path}' was trained on text with another vocabulary (has its corpus changed?)"
            )
        self.history = [EpochStats(**h) for h in meta["history"]]
        self.rng.bit_generator.state = meta["rng_state"]
        self.seconds_before = meta.get("train_seconds", 0.0)
        # resume "auto" restarts blindly: a finished run just reports again
        if len(self.history) >= self.tcfg.epochs and self.opts.resume != "auto":
            raise UsageError(
                f"checkpoint '{self.save_path}' is already at epoch {len(self.history)}; "
                "ask for more --epochs to continue"
            )
        return resumed.weights

    def _set_threads(self, choice):
        """Fix the run's thread count before the first minibatch; returns the count the
        backend really computes with (MXNet's was fixed when it loaded)."""
        self.backend.set_num_threads(choice.count)
        actual = self.backend.num_threads()
        note = choice.note
        if actual != choice.count and choice.source != "default":  # a request it could not follow
            note = (
                f"note: {self.backend.NAME} loaded with {threads.plural(actual)} before this run "
                f"chose {choice.count} ({choice.source}); it computes with {actual}"
            )
        if note and self.group.is_main:
            print(note, file=sys.stderr, flush=True)
        return actual

    # ---- checkpoints ----------------------------------------------------------------------

    def _snapshot(self):
        """What a checkpoint of this moment holds (taken between epochs only)."""
        return {
            "weights": self.backend.get_weights(self.model),
            "extra": {
                "train": dataclasses.asdict(self.tcfg),
                "rng_state": self.rng.bit_generator.state,
                "history": [dataclasses.asdict(h) for h in self.history],
                "epoch": len(self.history),
                "val_fraction": self.dcfg.val_fraction,
                "corpus": self.corpus_path,
                "text": self.dcfg.text,
                "backend": self.backend.NAME,
                "threads": self.threads,
                "train_seconds": self._seconds(),
            },
        }

    def _write(self, snapshot):
        save_checkpoint(
            self.save_path, self.mcfg, self.vocab, snapshot["weights"], self.tcfg.dtype, extra=snapshot["extra"]
        )

    def _seconds(self):
        return self.seconds_before + (time.perf_counter() - self.start)

    def _after_epoch(self, stats, history, rng):
        self._keep_best(stats)
        if self.save_path:
            self.last_good = self._snapshot()
            if self.opts.save_every and stats.epoch % self.opts.save_every == 0:
                self._write(self.last_good)
        self.progress.update(stats)  # counted once it is held

    def _keep_best(self, stats):
        """--save-best: the checkpoint of the lowest validation perplexity so far."""
        if not self.opts.save_best or stats.val_perplexity is None or not self.group.is_main:
            return
        earlier = [h.val_perplexity for h in self.history[:-1] if h.val_perplexity is not None]
        if not earlier or stats.val_perplexity < min(earlier):
            snapshot = self._snapshot()
            save_checkpoint(
                self.opts.save_best,
                self.mcfg,
                self.vocab,
                snapshot["weights"],
                self.tcfg.dtype,
                extra=snapshot["extra"],
            )

    def held_epochs(self):
        """The epochs a stopped run keeps: its checkpoint's when saving (a stop between an
        epoch's end and its snapshot keeps the one before), else those completed."""
        return self.last_good["extra"]["epoch"] if self.last_good else len(self.history)

    # ---- the run --------------------------------------------------------------------------

    def run(self, sample=None):
        """Train to tcfg.epochs; returns the metrics dict. Saves at the end when asked.

        On Ctrl-C or divergence the last completed epoch is written (when saving) and the
        exception propagates for the CLI to report.
        """
        self.start = time.perf_counter()
        self.progress = Progress(
            self.tcfg.epochs, len(self.history) + 1, self.opts.quiet or not self.group.is_main, sample
        )
        if self.save_path:
            self.last_good = self._snapshot()
        try:
            train(
                self.backend,
                self.model,
                self.corpus,
                self.tcfg,
                rng=self.rng,
                history=self.history,
                on_epoch=self._after_epoch,
                val_corpus=self.val_corpus,
                group=self.group,
            )
        except (KeyboardInterrupt, TrainingDiverged):
            if self.last_good is not None and self.last_good["extra"]["epoch"] > 0:
                self._write(self.last_good)
            self.progress.close(self.held_epochs())  # the bar ends where the stop's message says
            raise
        finally:
            self.progress.close()
        if self.group.world_size > 1:
            self.backend.finish_distributed(self.model)
        if self.save_path:
            self._write(self.last_good)
        return train_metrics(
            self.backend.NAME,
            self.backend.device_name(self.device),
            self.mcfg,
            self.tcfg,
            self.history,
            self._seconds(),
            self.group.world_size,
            self.dcfg,
            self.corpus_path,
        )
