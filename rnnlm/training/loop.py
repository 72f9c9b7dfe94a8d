"""The training loop (d2l.ai `train_ch8` / `train_epoch_ch8`), framework-neutral.

Per minibatch: begin the hidden state (first minibatch when sequential, every minibatch
when random) or detach it from the last minibatch's graph; then the backend's step does
forward, mean cross-entropy, backward, clip to the global L2 norm, SGD. The summed loss
stays on the device and is read once per epoch, so no minibatch waits for the host.
"""

import math
import time
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from rnnlm.data.batches import make_batches, seq_data_iter_sequential
from rnnlm.distributed.group import SINGLE, shard_rows
from rnnlm.errors import TrainingDiverged


@dataclass
class EpochStats:
    epoch: int
    perplexity: float
    tokens_per_sec: float
    seconds: float
    val_perplexity: Optional[float] = None
    grad_norm: Optional[float] = None  # the mean over minibatches, before clipping
    clipped_fraction: Optional[float] = None  # of minibatches whose norm exceeded --clip


def train_epoch(backend, model, optimizer, batches, clip, random_iter):
    """One pass over `batches`; returns (perplexity, tokens/sec, seconds, mean gradient norm
    before clipping, fraction of minibatches clipped)."""
    start = time.perf_counter()
    state, total, tokens, norms, clipped, steps = None, 0.0, 0, 0.0, 0.0, 0
    for X, Y in batches:
        if state is None or random_iter:
            state = backend.begin_state(model, X.shape[0])
        else:
            state = backend.detach_state(state)
        state, loss_sum, norm = backend.train_step(model, optimizer, state, X, Y, clip)
        total, norms, clipped = total + loss_sum, norms + norm, clipped + (norm > clip)  # on the device
        tokens += Y.size
        steps += 1
    # the epoch's one host sync; with several workers, their sums added up (every worker
    # clips the same averaged gradient, so its norm needs no sum)
    total, tokens = backend.all_reduce_sum(model, [backend.to_float(total), tokens])
    seconds = time.perf_counter() - start
    steps = max(steps, 1)
    return (
        perplexity(total / tokens),
        tokens / seconds,
        seconds,
        backend.to_float(norms) / steps,
        backend.to_float(clipped) / steps,
    )


def _finite(x):
    return x if math.isfinite(x) else None  # JSON and checkpoints hold no inf


def perplexity(mean_loss):
    """exp(mean loss); inf rather than OverflowError for a loss that has blown up."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def evaluate(backend, model, corpus, batch_size, num_steps):
    """Perplexity of `corpus`: one sequential pass from offset 0, state carried across."""
    batches = seq_data_iter_sequential(corpus, batch_size, num_steps, _ZeroOffset())
    state, total, tokens = None, 0.0, 0
    for X, Y in batches:
        state = backend.begin_state(model, X.shape[0]) if state is None else state
        state, loss_sum = backend.eval_step(model, state, X, Y)
        total = total + loss_sum
        tokens += Y.size
    return perplexity(backend.to_float(total) / tokens)


class _ZeroOffset:
    """Stands in for a Generator where evaluation must not be random: offset 0."""

    def integers(self, low, high):
        return low


def train(backend, model, corpus, tcfg, rng=None, history=None, on_epoch=None, val_corpus=None, group=SINGLE):
    """Train for epochs len(history)+1 .. tcfg.epochs; returns the list of EpochStats.

    `rng` draws every batch order (seeded from tcfg.seed when not given); `on_epoch`
    is called after each epoch with (stats, history, rng). With `val_corpus`, each epoch
    also reports its perplexity (one sequential pass, no gradient). A non-finite loss
    raises TrainingDiverged before `on_epoch` sees the epoch. In a `group` of workers each
    trains on its share of every minibatch's rows (see rnnlm.distributed.group).
    """
    rng = np.random.default_rng(tcfg.seed) if rng is None else rng
    history = [] if history is None else history
    optimizer = backend.make_optimizer(model, tcfg.lr)
    for epoch in range(len(history) + 1, tcfg.epochs + 1):
        batches = shard_rows(make_batches(corpus, tcfg.batch_size, tcfg.num_steps, tcfg.iter, rng), group)
        ppl, speed, seconds, norm, clipped = train_epoch(
            backend, model, optimizer, batches, tcfg.clip, tcfg.iter == "random"
        )
        if not math.isfinite(ppl):
            raise TrainingDiverged(epoch, ppl)
        val = None if val_corpus is None else evaluate(backend, model, val_corpus, tcfg.batch_size, tcfg.num_steps)
        stats = EpochStats(epoch, ppl, speed, seconds, val, _finite(norm), clipped)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats, history, rng)
    return history


def history_dicts(history):
    return [asdict(h) for h in history]
