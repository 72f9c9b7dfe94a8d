"""The model side of the coder, identical in both directions: a `Predictor` steps a model over
the R rows one column at a time and, `--online`, learns every chunk; the factories build one
per call (rows -> Predictor) from a checkpoint's weights or the seeded initial ones."""

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Optional

import numpy as np

from rnnlm.backend import build_model
from rnnlm.compression.entropy import model_probs
from rnnlm.model.weights import init_weights

DTYPE = "float32"  # what the coder's models compute in (the file records it)


class Predictor:
    """Steps a model over R rows one column at a time; with `online`, learns every chunk.

    `online.lag` 0: each chunk's training step (and replay) runs in line, and the next chunk
    is coded with the weights it produced. `lag` 1: the training runs on a worker thread, on
    `learner` (a second model), while the next chunk is coded with the weights from before it;
    at each chunk's end the coder waits for that training and takes the learner's weights. So a
    chunk is coded with the weights trained through the chunk before the last one, whatever
    the threads' timing: which weights code which column is fixed, not raced."""

    def __init__(self, backend, model, rows, online=None, learner=None):
        self.backend, self.model, self.online = backend, model, online
        self.state = self.chunk_start = backend.begin_state(model, rows)
        self._pending: Optional[Future] = None
        self._worker: Optional[ThreadPoolExecutor] = None
        if online is not None:
            self.learner = model if not online.lag else learner
            if self.learner is None:
                raise ValueError("online.lag needs a learner model")
            self.optimizer = backend.make_optimizer(self.learner, online.lr, online.optimizer)
            self.rng = np.random.default_rng([online.seed, 0xC0DE])  # replay windows
            if online.lag:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="rnnlm-learner")

    def probs(self, prev):
        """Distributions of the next character of every row, given each row's last one."""
        logits, self.state = self.backend.forward(self.model, prev[:, None], self.state)
        return model_probs(logits)

    def after_step(self, t, inputs, targets):
        """Called after column t is coded: every `chunk` columns, learn on the chunk."""
        if self.online is None or (t + 1) % self.online.chunk:
            return
        lo = t + 1 - self.online.chunk
        # what the training reads, copied now: the coder goes on writing later columns
        chunk = (inputs[:, lo : t + 1].copy(), targets[:, lo : t + 1].copy())
        windows = self._replay_windows(t + 1, inputs, targets)
        if not self.online.lag:
            state = self._learn(self.chunk_start, chunk, windows)
            self.state = self.chunk_start = self.backend.detach_state(state)
            return
        self.finish()  # the previous chunk's training: the learner now holds its weights
        self.backend.set_weights(self.model, self.backend.get_weights(self.learner))
        start, self.chunk_start = self.chunk_start, self.backend.detach_state(self.state)
        assert self._worker is not None
        self._pending = self._worker.submit(self._learn, start, chunk, windows)

    def finish(self):
        """Wait for the training in flight, if any (its errors are raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self):
        """Wait for the training in flight and stop the worker thread."""
        try:
            self.finish()
        finally:
            if self._worker is not None:
                self._worker.shutdown()
                self._worker = None

    def _learn(self, start, chunk, windows):
        """One training step on the chunk from the state it began with, then the replay
        steps; the state after the chunk."""
        o, b = self.online, self.backend
        state, _, _ = b.train_step(self.learner, self.optimizer, b.detach_state(start), *chunk, o.clip)
        for X, Y in windows:
            b.train_step(self.learner, self.optimizer, b.begin_state(self.learner, o.replay_batch), X, Y, o.clip)
        return state

    def _replay_windows(self, coded, inputs, targets):
        """The replay steps' (inputs, targets): random windows of the `coded` columns, the
        history learned again."""
        o = self.online
        if not o.replay or coded < o.replay_len:
            return []
        rows = inputs.shape[0]
        cols = np.arange(o.replay_len)
        windows = []
        for _ in range(o.replay):
            r = self.rng.integers(0, rows, o.replay_batch)
            c = self.rng.integers(0, coded - o.replay_len + 1, o.replay_batch)[:, None] + cols
            windows.append((inputs[r[:, None], c], targets[r[:, None], c]))
        return windows


def checkpoint_factory(backend, mcfg, weights, threads):
    """Rows -> a Predictor over the checkpoint's model, on the CPU, `threads` pinned."""

    def make(rows):
        model = build_model(
            backend,
            mcfg,
            backend.resolve_device("cpu"),
            DTYPE,
            {k: np.asarray(v, dtype=DTYPE) for k, v in weights.items()},
        )
        backend.set_num_threads(threads)  # after building: a model may claim every core
        return Predictor(backend, model, rows)

    return make


def online_factory(backend, mcfg, ocfg, threads):
    """Rows -> a Predictor over the seeded initial weights that learns as it codes."""

    def make(rows):
        models = [
            build_model(backend, mcfg, backend.resolve_device("cpu"), DTYPE, init_weights(mcfg, ocfg.seed, DTYPE))
            for _ in range(2 if ocfg.lag else 1)  # lag: the coder's and the learner's
        ]
        backend.set_num_threads(threads)
        return Predictor(backend, models[0], rows, ocfg, learner=models[-1] if ocfg.lag else None)

    return make
