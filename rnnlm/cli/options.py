"""What the commands share: the parser class, the formatter, value parsers and the option
groups, each option's default read from its typed config.

argparse only parses here: a value of the wrong kind ('abc' for a number) is its error, but
whether a number is in range is the typed config's to judge (`rnnlm.config`), in the one
message the command line and the Python API share.
"""

import argparse
import math

from rnnlm.backend import BACKENDS, INFERENCE_BACKENDS
from rnnlm.config import (
    ACTIVATIONS,
    CELLS,
    DTYPES,
    ITERATORS,
    TEXT_MODES,
    DataConfig,
    EvalConfig,
    GenerateConfig,
    ModelConfig,
    RunOptions,
    TrainConfig,
    TrainJob,
)
from rnnlm.errors import UsageError

M, T, D, R = ModelConfig, TrainConfig, DataConfig, RunOptions  # where the defaults live
G, E = GenerateConfig, EvalConfig


class HelpFormatter(argparse.HelpFormatter):
    """Appends '(default: X)' where a default exists and the help does not name one already."""

    def _get_help_string(self, action):
        text = action.help or ""
        # by identity: `0 in (None, False)` holds (0 == False), which hid --seed 0 and --threads 0
        no_default = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if "default" in text or no_default or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(message)


def integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None


def number(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def resume_mode(text):
    if text != "auto":
        raise argparse.ArgumentTypeError(f"invalid choice: '{text}' (choose from 'auto', or none)")
    return text


def backend_help():
    first = ", ".join(BACKENDS)
    inference = f"; predict and eval also {', '.join(INFERENCE_BACKENDS)}" if INFERENCE_BACKENDS else ""
    return f"{' | '.join(BACKENDS)}{inference} (default: $RNNLM_BACKEND, else the first of {first} installed)"


def add_backend_options(p):
    p.add_argument("--backend", help=backend_help())
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one) | cpu | gpu")


def add_model_options(p):
    p.add_argument("--model", default=M.cell, choices=CELLS, help="recurrent cell")
    p.add_argument("--activation", default=M.activation, choices=ACTIVATIONS, help="vanilla rnn only")
    p.add_argument("--num-hiddens", type=integer, default=M.num_hiddens, help="hidden units")
    p.add_argument("--num-layers", type=integer, default=M.num_layers, help="recurrent layers")
    p.add_argument("--bidirectional", action="store_true", help="a reverse direction too")


def add_train_options(p):
    add_model_options(p)
    p.add_argument("--batch-size", type=integer, default=T.batch_size, help="rows per minibatch")
    p.add_argument("--num-steps", type=integer, default=T.num_steps, help="time steps per minibatch")
    p.add_argument("--lr", type=number, default=T.lr, help="SGD learning rate")
    p.add_argument("--epochs", type=integer, default=T.epochs, help="epochs in all")
    p.add_argument("--clip", type=number, default=T.clip, help="max global L2 norm of the gradient")
    p.add_argument(
        "--max-tokens", type=integer, default=T.max_tokens, help="train on the first N tokens (0: the whole corpus)"
    )
    p.add_argument("--iter", default=T.iter, choices=ITERATORS, help="minibatch partitioning")
    p.add_argument("--seed", type=integer, default=T.seed, help="initial weights and batch order")
    p.add_argument("--dtype", default=T.dtype, choices=DTYPES, help="floating-point type")
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument(
        "--text",
        default=D.text,
        choices=TEXT_MODES,
        help="book: the book's cleaning (letters, lower-case); raw: every character",
    )
    p.add_argument("--metrics-json", metavar="PATH", help="write the run's metrics as JSON")


def add_checkpoint_option(p):
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="an rnnlm checkpoint (.npz)")


def train_job(args):
    """The typed configs of a parsed `train` (or `compare`) command line; each validates itself."""
    model = ModelConfig(
        num_hiddens=args.num_hiddens,
        num_layers=args.num_layers,
        cell=args.model,
        bidirectional=args.bidirectional,
        activation=args.activation,
    )
    train = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_steps=args.num_steps,
        lr=args.lr,
        clip=args.clip,
        max_tokens=args.max_tokens,
        iter=args.iter,
        seed=args.seed,
        dtype=args.dtype,
    )
    data = DataConfig(corpus=args.corpus, text=args.text, val_fraction=getattr(args, "val_fraction", 0.0))
    resume = {None: "no", True: "yes", "auto": "auto"}[getattr(args, "resume", None)]
    run = RunOptions(
        save=getattr(args, "save", None),
        save_every=getattr(args, "save_every", 0),
        resume=resume,
        plot=getattr(args, "plot", None),
        metrics_json=args.metrics_json,
        quiet=args.quiet,
        threads=getattr(args, "threads", 0),
        save_best=getattr(args, "save_best", None),
        overwrite=getattr(args, "overwrite", R.overwrite),
    )
    return TrainJob(model, train, data, run, getattr(args, "backend", None), args.device)
