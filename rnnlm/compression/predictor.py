"""The model side of the coder, identical in both directions: a `Predictor` steps a model over
the R rows one column at a time and, `--online`, learns every chunk; the factories build one
per call (rows -> Predictor) from a checkpoint's weights or the seeded initial ones."""

import numpy as np

from rnnlm.backend import build_model
from rnnlm.compression.entropy import model_probs
from rnnlm.model.weights import init_weights

DTYPE = "float32"  # what the coder's models compute in (the file records it)


class Predictor:
    """Steps a model over R rows one column at a time; with `online`, learns every chunk."""

    def __init__(self, backend, model, rows, online=None):
        self.backend, self.model, self.online = backend, model, online
        self.state = self.chunk_start = backend.begin_state(model, rows)
        if online is not None:
            self.optimizer = backend.make_optimizer(model, online.lr, online.optimizer)
            self.rng = np.random.default_rng([online.seed, 0xC0DE])  # replay windows

    def probs(self, prev):
        """Distributions of the next character of every row, given each row's last one."""
        logits, self.state = self.backend.forward(self.model, prev[:, None], self.state)
        return model_probs(logits)

    def after_step(self, t, inputs, targets):
        """Called after column t is coded: every `chunk` columns, learn on the chunk."""
        if self.online is None or (t + 1) % self.online.chunk:
            return
        b = self.backend
        lo = t + 1 - self.online.chunk
        state, _, _ = b.train_step(
            self.model,
            self.optimizer,
            b.detach_state(self.chunk_start),
            inputs[:, lo : t + 1],
            targets[:, lo : t + 1],
            self.online.clip,
        )
        self.state = self.chunk_start = b.detach_state(state)
        self._replay(t + 1, inputs, targets)

    def _replay(self, coded, inputs, targets):
        """More steps on random windows of the `coded` columns: the history, learned again."""
        o, b = self.online, self.backend
        if not o.replay or coded < o.replay_len:
            return
        rows = inputs.shape[0]
        cols = np.arange(o.replay_len)
        for _ in range(o.replay):
            r = self.rng.integers(0, rows, o.replay_batch)
            c = self.rng.integers(0, coded - o.replay_len + 1, o.replay_batch)[:, None] + cols
            b.train_step(
                self.model,
                self.optimizer,
                b.begin_state(self.model, o.replay_batch),
                inputs[r[:, None], c],
                targets[r[:, None], c],
                o.clip,
            )


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
        model = build_model(backend, mcfg, backend.resolve_device("cpu"), DTYPE, init_weights(mcfg, ocfg.seed, DTYPE))
        backend.set_num_threads(threads)
        return Predictor(backend, model, rows, ocfg)

    return make
