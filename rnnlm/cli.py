"""The `rnnlm` command line: parsing into typed configs, and the one place errors become
exit codes.

Bad input (a UsageError, or an argument argparse rejects) prints one line
`error: ...` on stderr and exits 2; no traceback reaches the user.
"""

import argparse
import math
import os
import sys

from rnnlm import __version__, convert
from rnnlm.backend import BACKENDS
from rnnlm.config import (ACTIVATIONS, CELLS, DTYPES, ITERATORS, TEXT_MODES, DataConfig, ModelConfig,
                          RunOptions, TrainConfig, TrainJob)
from rnnlm.errors import UsageError
from rnnlm.stop_signals import exit_status, sigterm_stops, stop_word

M, T, D, R = ModelConfig, TrainConfig, DataConfig, RunOptions  # where the defaults live


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=argparse.ArgumentDefaultsHelpFormatter, **kwargs)

    def error(self, message):
        raise UsageError(message)


def _number(kind, minimum, inclusive):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a{'n integer' if kind is int else ' number'}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < minimum if inclusive else value <= minimum:
            bound = f">= {minimum}" if inclusive else f"> {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value
    return parse


positive_int = _number(int, 0, inclusive=False)
non_negative_int = _number(int, 0, inclusive=True)
positive_float = _number(float, 0.0, inclusive=False)
non_negative_float = _number(float, 0.0, inclusive=True)


def fraction(text):
    value = non_negative_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"must be below 1, got {text}")
    return value


def _resume_mode(text):
    if text != "auto":
        raise argparse.ArgumentTypeError(f"invalid choice: '{text}' (choose from 'auto', or none)")
    return text


def _add_backend_options(p):
    p.add_argument("--backend", help=f"{' | '.join(BACKENDS)}; predict and eval also onnxruntime "
                                     "(default: $RNNLM_BACKEND, else the first of torch, mxnet installed)")
    p.add_argument("--device", default="auto", help="auto (a GPU if there is one) | cpu | gpu")


def _add_train_options(p):
    p.add_argument("--model", default=M.cell, choices=CELLS, help="recurrent cell")
    p.add_argument("--activation", default=M.activation, choices=ACTIVATIONS, help="vanilla rnn only")
    p.add_argument("--num-hiddens", type=positive_int, default=M.num_hiddens, help="hidden units")
    p.add_argument("--num-layers", type=positive_int, default=M.num_layers, help="recurrent layers")
    p.add_argument("--bidirectional", action="store_true", help="a reverse direction too")
    p.add_argument("--batch-size", type=positive_int, default=T.batch_size, help="rows per minibatch")
    p.add_argument("--num-steps", type=positive_int, default=T.num_steps, help="time steps per minibatch")
    p.add_argument("--lr", type=positive_float, default=T.lr, help="SGD learning rate")
    p.add_argument("--epochs", type=positive_int, default=T.epochs, help="epochs in all")
    p.add_argument("--clip", type=positive_float, default=T.clip, help="max global L2 norm of the gradient")
    p.add_argument("--max-tokens", type=non_negative_int, default=T.max_tokens,
                   help="train on the first N tokens (0: the whole corpus)")
    p.add_argument("--iter", default=T.iter, choices=ITERATORS, help="minibatch partitioning")
    p.add_argument("--seed", type=non_negative_int, default=T.seed, help="initial weights and batch order")
    p.add_argument("--dtype", default=T.dtype, choices=DTYPES, help="floating-point type")
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument("--text", default=D.text, choices=TEXT_MODES,
                   help="book: the book's cleaning (letters, lower-case); raw: every character")
    p.add_argument("--metrics-json", metavar="PATH", help="write the run's metrics as JSON")


def _add_checkpoint_options(p):
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="an rnnlm checkpoint (.npz)")


def build_parser():
    parser = _Parser(prog="rnnlm", description="The d2l.ai character-level RNN language model, "
                                               "in PyTorch or MXNet.")
    parser.add_argument("--version", action="version", version=f"rnnlm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a model (no options: the book's run)")
    _add_backend_options(p)
    _add_train_options(p)
    p.add_argument("--val-fraction", type=fraction, default=D.val_fraction,
                   help="hold out the last F of the token stream for validation")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of perplexity per epoch")
    p.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    p.add_argument("--save-every", type=non_negative_int, default=R.save_every, metavar="N",
                   help="also checkpoint every N epochs (0: only at the end)")
    p.add_argument("--resume", nargs="?", const=True, type=_resume_mode, metavar="auto",
                   help="continue the run saved in --save PATH up to --epochs; --resume auto: "
                        "only if that file exists (start afresh otherwise), so a supervisor can "
                        "restart the same command line")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    p.add_argument("--threads", type=non_negative_int, default=R.threads, metavar="N",
                   help="torch's CPU threads; 0: measured while training and adapted to other load "
                        "(pin N for bitwise-repeatable runs; MXNet's count is OMP_NUM_THREADS, "
                        "else 1, fixed when it loads)")

    p = sub.add_parser("predict", help="continue a prefix with a trained checkpoint")
    p.add_argument("prefix", help="the text to continue")
    _add_checkpoint_options(p)
    p.add_argument("--num-chars", type=non_negative_int, default=50, help="characters to generate")
    p.add_argument("--temperature", type=non_negative_float, default=0.0,
                   help="0: greedy, as the book; above 0: sample from softmax(logits / T)")
    p.add_argument("--top-k", type=non_negative_int, default=0,
                   help="with a temperature: sample only from the k likeliest (0: all)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="sampling seed")
    p.add_argument("--num-samples", type=positive_int, default=1, metavar="M", help="continuations to print")
    _add_backend_options(p)

    p = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    _add_checkpoint_options(p)
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument("--max-tokens", type=non_negative_int, default=T.max_tokens,
                   help="the first N tokens (0: the whole corpus)")
    p.add_argument("--batch-size", type=positive_int, default=T.batch_size, help="rows per minibatch")
    p.add_argument("--num-steps", type=positive_int, default=T.num_steps, help="time steps per minibatch")
    p.add_argument("--metrics-json", metavar="PATH", help="write the result as JSON")
    _add_backend_options(p)

    p = sub.add_parser("launch", help="data-parallel training: a local group of workers on loopback")
    p.add_argument("--workers", type=positive_int, required=True, metavar="N", help="training processes")
    p.add_argument("--servers", type=positive_int, default=1, metavar="S", help="MXNet parameter servers")
    p.add_argument("--max-restarts", type=non_negative_int, default=0, metavar="K",
                   help="after a process dies, restart the group from the last --save checkpoint, "
                        "up to K times (default: 0, fail at once)")
    p.add_argument("train_argv", nargs=argparse.REMAINDER, metavar="-- train ...",
                   help="the training command the workers run")

    p = sub.add_parser("compare", help="train torch and mxnet from identical weights and batches")
    _add_train_options(p)
    p.add_argument("--device", default="auto", help="auto | cpu | gpu")
    p.add_argument("--quiet", action="store_true", help="accepted for symmetry with train: compare "
                                                        "shows no per-epoch progress anyway")
    convert.add_parsers(sub)
    from rnnlm import compress_cli
    compress_cli.add_parsers(sub, positive_int, "one of: " + ", ".join(BACKENDS))
    return parser


def train_job(args):
    """The typed configs of a parsed `train` (or `compare`) command line."""
    model = ModelConfig(num_hiddens=args.num_hiddens, num_layers=args.num_layers, cell=args.model,
                        bidirectional=args.bidirectional, activation=args.activation)
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, num_steps=args.num_steps,
                        lr=args.lr, clip=args.clip, max_tokens=args.max_tokens, iter=args.iter,
                        seed=args.seed, dtype=args.dtype)
    data = DataConfig(corpus=args.corpus, text=args.text, val_fraction=getattr(args, "val_fraction", 0.0))
    resume = {None: "no", True: "yes", "auto": "auto"}[getattr(args, "resume", None)]
    run = RunOptions(save=getattr(args, "save", None), save_every=getattr(args, "save_every", 0), resume=resume,
                     plot=getattr(args, "plot", None), metrics_json=args.metrics_json, quiet=args.quiet,
                     threads=getattr(args, "threads", 0))
    return TrainJob(model, train, data, run, getattr(args, "backend", None), args.device)


def _check_predict(args):
    if not args.prefix:
        raise UsageError("the prefix is empty; give at least one character")
    if args.top_k and args.temperature == 0:
        raise UsageError("--top-k samples from the k likeliest characters: give a --temperature "
                         "above 0 as well (0 is greedy)")


def dispatch(parser, args):
    from rnnlm import commands

    if args.command == "train":
        job = train_job(args)
        return commands.cmd_train(job.model, job.train, job.data, job.run, job.backend, job.device)
    if args.command == "compare":
        job = train_job(args)
        return commands.cmd_compare(job.model, job.train, job.data, job.run, job.device)
    if args.command == "launch":
        from rnnlm.launch import cmd_launch
        return cmd_launch(args, lambda argv: train_job(parser.parse_args(argv)))
    if args.command == "predict":
        _check_predict(args)
        return commands.cmd_predict(args)
    if args.command == "eval":
        return commands.cmd_eval(args)
    if args.command in ("compress", "decompress"):
        from rnnlm import compress_cli
        return getattr(compress_cli, f"cmd_{args.command}")(args)
    return {"import": convert.cmd_import, "export": convert.cmd_export}[args.command](args)


def _quiet_stdout():
    """After a reader closed stdout (`rnnlm train | head -1`): send whatever is still
    buffered to /dev/null, so the interpreter's final flush stays silent too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv=None):
    try:
        parser = build_parser()
        with sigterm_stops():  # SIGTERM stops (and saves) as Ctrl-C does
            return dispatch(parser, parser.parse_args(argv))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"error: {stop_word(exc)}", file=sys.stderr)
        return exit_status(exc)
    except BrokenPipeError:
        _quiet_stdout()
        return 141  # as a shell reports a process ended by SIGPIPE
