"""The Python API: the book's model in a notebook, on the same typed configs as the CLI.

    import rnnlm
    run = rnnlm.train(backend="torch", epochs=50, num_hiddens=128)   # -> TrainResult
    run.model.predict("time traveller")                               # -> str
    run.model.save("model.npz")
    model = rnnlm.load("model.npz", backend="mxnet")                  # -> LanguageModel
    model.evaluate()                                                  # -> perplexity
    rnnlm.compare(epochs=10, dtype="float64").max_rel_diff            # -> float
    blob = rnnlm.compress(text)                                       # -> bytes (--online)
    rnnlm.decompress(blob, as_text=True) == text                      # -> str (bytes without as_text)

Keyword settings take the command line's names (`model` is the cell, as `--model`). Bad
settings raise `rnnlm.UsageError` (a ValueError for configs) with the CLI's message.
"""

import itertools
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from rnnlm.backend import (
    BACKENDS,
    SPECS,
    build_model,
    check_names,
    default_count,
    installed_training_backends,
    load_selected,
    requested_name,
    select_backend,
)
from rnnlm.data.batches import check_corpus_length
from rnnlm.data.dataset import load_training_data
from rnnlm.checkpoints.file import load_checkpoint, save_checkpoint
from rnnlm.config import DataConfig, ModelConfig, RunOptions, TrainConfig
from rnnlm.data.corpus import corpus_name, load_corpus
from rnnlm.devices import check_device
from rnnlm.errors import UsageError
from rnnlm.model.generate import predict as _predict
from rnnlm.training.run import Resumed, TrainingRun, check_outputs, thread_choice
from rnnlm.training.loop import EpochStats, evaluate as _evaluate

PROBE_PREFIXES = ("time traveller", "traveller")  # what the book prints after training


@dataclass
class LanguageModel:
    """A trained model on one backend, with its vocabulary."""

    backend: Any  # the backend module (rnnlm.backends.torch_impl, ...)
    net: Any  # the framework's model object
    vocab: Any  # rnnlm.data.vocab.Vocab
    config: ModelConfig
    dtype: str = "float32"
    text: str = "book"  # how its training text was read (DataConfig.text)
    extra: Dict[str, Any] = field(default_factory=dict)  # checkpoint metadata to keep on save

    def predict(self, prefix, num_chars=50, temperature=0.0, top_k=0, seed=0, rng=None):
        """`prefix` and `num_chars` generated characters: greedy (the book's `predict_ch8`) at
        temperature 0, else sampled from softmax(logits / T), from the top k if k > 0."""
        if not prefix:
            raise UsageError("the prefix is empty; give at least one character")
        rng = np.random.default_rng(seed) if rng is None else rng
        return _predict(self.backend, self.net, self.vocab, prefix, num_chars, temperature, top_k, rng)

    def evaluate(self, corpus=None, max_tokens=10000, batch_size=32, num_steps=35):
        """Perplexity (float) of a text file (None: the embedded book), read the way this
        model's training text was, over one sequential pass with the state carried across."""
        return self.perplexity_of(self.token_ids(corpus, max_tokens), batch_size, num_steps, corpus)

    def token_ids(self, corpus=None, max_tokens=10000):
        """The text of `corpus` as this model's token ids (int64; unknown characters are <unk>)."""
        ids, corpus_vocab = load_corpus(corpus, max_tokens, text=self.text)
        return np.array(self.vocab[corpus_vocab.to_tokens(ids.tolist())], dtype=np.int64)

    def perplexity_of(self, ids, batch_size=32, num_steps=35, what=None):
        """Perplexity (float) of token ids; `what` names the text in errors."""
        check_corpus_length(len(ids), batch_size, num_steps, "eval", corpus_name(what))
        return _evaluate(self.backend, self.net, ids, batch_size, num_steps)

    def weights(self):
        """{canonical name: NumPy array}, the layout of the book's PyTorch model."""
        return self.backend.get_weights(self.net)

    def save(self, path):
        """Write an rnnlm checkpoint (.npz, atomically); returns `path`."""
        save_checkpoint(
            path, self.config, self.vocab, self.weights(), self.dtype, extra={**self.extra, "text": self.text}
        )
        return path


@dataclass
class TrainResult:
    """What `train` returns: the model, the per-epoch history and the metrics dict
    (the same as `rnnlm train --metrics-json` writes)."""

    model: LanguageModel
    history: List[EpochStats]
    metrics: Dict[str, Any]

    @property
    def perplexity(self):
        return self.metrics["perplexity"]

    def plot(self):
        """Perplexity per epoch as a matplotlib Figure: shown inline in a notebook, or
        `.savefig(path)`."""
        from rnnlm.training.plot import history_figure

        return history_figure(self.history, f"{self.metrics['model']} on {self.metrics['backend']}")


@dataclass
class Comparison:
    """Several backends trained from the same weights on the same batches."""

    runs: Dict[str, Dict[str, Any]]  # backend name -> metrics, in the order asked for

    @property
    def names(self) -> List[str]:
        return list(self.runs)

    def pairs(self) -> List[Tuple[str, str]]:
        """Every pair of backends, in the order asked for."""
        return list(itertools.combinations(self.names, 2))

    def rel_diffs_of(self, a: str, b: str) -> List[float]:
        """Per epoch, |ppl_a - ppl_b| / ppl_b."""
        return [
            abs(x["perplexity"] - y["perplexity"]) / abs(y["perplexity"])
            for x, y in zip(self.runs[a]["history"], self.runs[b]["history"])
        ]

    @property
    def rel_diffs(self) -> List[float]:
        """Per epoch, the largest relative difference over all pairs."""
        per_pair = [self.rel_diffs_of(a, b) for a, b in self.pairs()]
        return [max(epoch) for epoch in zip(*per_pair)] if per_pair else []

    @property
    def max_rel_diff(self) -> float:
        return max(self.rel_diffs, default=0.0)

    def first_epoch_above(self, threshold: float) -> Optional[int]:
        """The first epoch at which some pair differs by more than `threshold`, or None."""
        return next((i + 1 for i, d in enumerate(self.rel_diffs) if d > threshold), None)


# ---- settings --------------------------------------------------------------------------

_MODEL_NAMES = {"model": "cell", **{f.name: f.name for f in fields(ModelConfig) if f.name != "cell"}}


def configs_from_settings(settings):
    """(ModelConfig, TrainConfig, DataConfig, RunOptions) from keyword settings named as the
    command line's flags; an unknown name is a UsageError listing the known ones."""
    groups: Dict[str, Dict[str, Any]] = {"model": {}, "train": {}, "data": {}, "run": {}}
    known = {
        **{k: "model" for k in _MODEL_NAMES},
        **{f.name: "train" for f in fields(TrainConfig)},
        **{f.name: "data" for f in fields(DataConfig)},
        **{f.name: "run" for f in fields(RunOptions)},
    }
    for name, value in settings.items():
        if name not in known or name == "vocab_size":
            raise UsageError(f"unknown setting '{name}' (choose from: {', '.join(sorted(known))})")
        groups[known[name]][_MODEL_NAMES.get(name, name) if known[name] == "model" else name] = value
    return (
        ModelConfig(**groups["model"]),
        TrainConfig(**groups["train"]),
        DataConfig(**groups["data"]),
        RunOptions(**groups["run"]),
    )


def resume_point(run_opts, epochs):
    """The run saved in `run_opts.save` to continue, or None (nothing to resume, or
    resume "auto" and no file yet). Its model, training and data configs replace the
    caller's, all but `epochs`."""
    if run_opts.resume == "no" or (run_opts.resume == "auto" and not os.path.exists(run_opts.save)):
        return None
    mcfg, _, weights, meta = load_checkpoint(run_opts.save)
    if "train" not in meta or "rng_state" not in meta:
        raise UsageError(f"checkpoint '{run_opts.save}' holds no training state to resume from")
    tcfg = replace(TrainConfig.from_dict(meta["train"]), epochs=epochs)
    dcfg = DataConfig(
        corpus=meta.get("corpus"), text=meta.get("text", "book"), val_fraction=meta.get("val_fraction", 0.0)
    )
    return Resumed(mcfg, tcfg, dcfg, weights, meta)


# ---- the API ---------------------------------------------------------------------------


def start_training(mcfg, tcfg, dcfg, run_opts, backend=None, device="auto"):
    """A ready TrainingRun (every output path checked, resumed if asked, data loaded);
    `run()` it to train. The CLI and `train` share this."""
    check_outputs(run_opts, dcfg.corpus)
    name = requested_name(backend, training=True)  # checked once, before the checkpoint is read
    check_device(device)  # before the corpus and the framework, the long part
    resumed = resume_point(run_opts, tcfg.epochs)
    if resumed is not None:
        mcfg, tcfg, dcfg = resumed.mcfg, resumed.tcfg, resumed.dcfg
        check_outputs(run_opts, dcfg.corpus)  # the corpus the checkpoint names
    if run_opts.save_best and not dcfg.val_fraction:
        raise UsageError("--save-best keeps the best validation epoch: give a --val-fraction too")
    corpus, val_corpus, vocab = load_training_data(dcfg, tcfg)
    mcfg = replace(mcfg, vocab_size=len(vocab))
    # chosen once, handed to the backend as it loads (each backend's default has its own split_factor)
    choice = lambda spec: thread_choice(mcfg, tcfg, run_opts, resumed, spec)  # noqa: E731
    backend_module = load_selected(name, training=True, threads=lambda spec: choice(spec).count)
    counts = choice(SPECS[backend_module.NAME])
    return TrainingRun(
        backend_module,
        backend_module.resolve_device(device),
        mcfg,
        tcfg,
        dcfg,
        run_opts,
        vocab,
        corpus,
        val_corpus,
        resumed,
        counts,
    )


def model_of(run):
    return LanguageModel(run.backend, run.model, run.vocab, run.mcfg, run.tcfg.dtype, run.dcfg.text)


def train(backend=None, device="auto", **settings):
    """Train the book's model; returns a TrainResult (model, history, metrics).

    `settings` are the command line's train options by name (`epochs=50`, `model="gru"`,
    `num_hiddens=128`, `corpus="my.txt"`, `text="raw"`, `val_fraction=0.1`, `save="m.npz"`,
    `resume="auto"`, `quiet=True`, ...); defaults are the book's. Progress prints unless
    `quiet=True`. Ctrl-C raises KeyboardInterrupt after saving the last epoch (with `save`).
    """
    mcfg, tcfg, dcfg, opts = configs_from_settings(settings)
    run = start_training(mcfg, tcfg, dcfg, opts, backend=backend, device=device)
    model = model_of(run)
    metrics = run.run(sample=lambda: model.predict(PROBE_PREFIXES[0]))
    return TrainResult(model, run.history, metrics)


def load(path, backend=None, device="auto", batch_size=32):
    """The LanguageModel in checkpoint `path`, on `backend` (default: as for training).

    `batch_size`: the batch the model will mostly run (`rnnlm predict` passes 1); the
    framework's default thread count is chosen from it as training's is from its batch, so a
    batch-1 generation computes on one thread, where waking a second one for each small
    operation costs more than it shares (OMP_NUM_THREADS still decides where it is set)."""
    check_device(device)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    mcfg, vocab, weights, meta = load_checkpoint(path)
    work = mcfg.step_work(batch_size)
    backend_module = select_backend(backend, threads=lambda spec: default_count(spec, work))
    dtype = meta.get("dtype", "float32")
    net = build_model(backend_module, mcfg, backend_module.resolve_device(device), dtype, weights)
    keep = {k: v for k, v in meta.items() if k not in ("format", "version", "model", "vocab", "dtype", "text")}
    return LanguageModel(backend_module, net, vocab, mcfg, dtype, meta.get("text", "book"), keep)


def compare(backends=None, device="auto", **settings):
    """Train each of `backends` (default: every installed training backend) from the same
    initial weights on the same batches; returns a Comparison of their per-epoch
    perplexities. Takes `train`'s model, training and data settings."""
    mcfg, tcfg, dcfg, _ = configs_from_settings(settings)
    return compare_configs(mcfg, tcfg, dcfg, device, backends=backends)


def compare_backends(names=None):
    """The backends a comparison trains: `names` checked and imported, or every installed
    training backend; at least two, before any work starts."""
    if names is None:
        names = installed_training_backends()
        if len(names) < 2:
            raise UsageError(
                f"compare needs two training backends; installed: {', '.join(names) or 'none'} "
                f"(of {', '.join(BACKENDS)})"
            )
    names = check_names(names)
    if len(names) < 2:
        raise UsageError(f"compare needs two or more different backends, got {', '.join(names)}")
    return [load_selected(name) for name in names]  # checked above


def compare_configs(mcfg, tcfg, dcfg, device="auto", on_start=None, backends=None):
    """`compare` on typed configs; `on_start(name)` is called before each backend trains."""
    check_device(device)
    modules = compare_backends(backends)  # every one installed, before any work
    runs = {}
    for backend_module in modules:
        if on_start is not None:
            on_start(backend_module.NAME)
        run = start_training(mcfg, tcfg, dcfg, RunOptions(quiet=True), backend=backend_module.NAME, device=device)
        runs[backend_module.NAME] = run.run()
    return Comparison(runs)


# ---- compression -------------------------------------------------------------------------


def compress(data, checkpoint=None, config=None, quiet=True, **settings):
    """`data` (bytes, or a str) losslessly compressed with the model: the bytes of an `rnnlm
    compress` file. With `checkpoint` (a path) its model codes, else the `--online` one learns
    while coding. `settings` take the command line's names (`segments=32`, `threads=2`,
    `mix="both"`, `backend="torch"`, `model="gru"`, `num_hiddens=256`, `seed=0`), or give a
    whole `config` (a CompressConfig). A str is coded as its UTF-8 bytes (lone surrogates
    U+DC80..U+DCFF as the bytes they escape): `decompress(..., as_text=True)` gives it back."""
    from rnnlm.compression import pipeline
    from rnnlm.compression.config import CompressConfig

    if config is None:
        config = CompressConfig.from_options(checkpoint is None, **settings)
    elif settings:
        raise UsageError(f"give settings or a config, not both (got {', '.join(sorted(settings))})")
    coded = pipeline.compress(_as_bytes(data), config, checkpoint, quiet)
    _warn(coded.notes)
    return coded.data


def decompress(blob, checkpoint=None, backend=None, as_text=False, quiet=True):
    """The original of an `rnnlm compress` file's bytes `blob`: bytes, or with `as_text` the
    str `compress` was given. `checkpoint`: the one it was coded with (checkpoint mode);
    `backend`, if given, must be the one it names."""
    from rnnlm.compression import pipeline

    coded = pipeline.decompress(bytes(blob), "data", checkpoint, backend, quiet)
    _warn(coded.notes)
    return coded.data.decode("utf-8", "surrogateescape") if as_text else coded.data


def _as_bytes(data):
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if not isinstance(data, str):
        raise UsageError(f"compress takes bytes or a str, got {type(data).__name__}")
    try:
        raw = data.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"the text holds a lone surrogate U+{ord(data[exc.start]):04X} at character "
            f"{exc.start}, which UTF-8 cannot carry"
        ) from None
    if raw.decode("utf-8", "surrogateescape") != data:
        raise UsageError(
            "the text holds surrogate escapes that together spell UTF-8: it would not "
            "decode to the same str (give its bytes instead)"
        )
    return raw


def _warn(notes):
    import warnings

    for note in notes:
        warnings.warn(note, stacklevel=3)
