"""The `rnnlm` command line: argument parsing and the one place errors become exit codes.

Bad input (a UsageError, or an argument argparse rejects) prints one line
`error: ...` on stderr and exits 2; no traceback reaches the user.
"""

import argparse
import math
import sys

from rnnlm import __version__
from rnnlm.backend import BACKENDS
from rnnlm.config import ACTIVATIONS, CELLS, DTYPES
from rnnlm.errors import UsageError


class _Parser(argparse.ArgumentParser):
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
    p.add_argument("--backend", help=f"one of: {', '.join(BACKENDS)} (default: $RNNLM_BACKEND, "
                                     "else torch if installed, else mxnet)")
    p.add_argument("--device", default="auto", help="auto | cpu | gpu (default: auto, a GPU if there is one)")


def _add_train_options(p):
    p.add_argument("--model", default="rnn", choices=CELLS, help="recurrent cell (default: rnn)")
    p.add_argument("--activation", default="tanh", choices=ACTIVATIONS, help="vanilla RNN only (default: tanh)")
    p.add_argument("--num-hiddens", type=positive_int, default=256)
    p.add_argument("--num-layers", type=positive_int, default=1)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--num-steps", type=positive_int, default=35)
    p.add_argument("--lr", type=positive_float, default=1.0)
    p.add_argument("--epochs", type=positive_int, default=500)
    p.add_argument("--clip", type=positive_float, default=1.0, help="max global L2 norm of the gradient")
    p.add_argument("--max-tokens", type=non_negative_int, default=10000, help="0 = the whole corpus")
    p.add_argument("--iter", default="sequential", choices=("sequential", "random"))
    p.add_argument("--seed", type=non_negative_int, default=0, help="initial weights and batch order")
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument("--metrics-json", metavar="PATH")


def build_parser():
    parser = _Parser(prog="rnnlm", description="The d2l.ai character-level RNN language model, "
                                               "in PyTorch or MXNet.")
    parser.add_argument("--version", action="version", version=f"rnnlm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a model (no options: the book's run)")
    _add_backend_options(p)
    _add_train_options(p)
    p.add_argument("--val-fraction", type=fraction, default=0.0,
                   help="hold out the last F of the token stream for validation (default: 0, none)")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of perplexity per epoch")
    p.add_argument("--save", metavar="PATH", help="write a checkpoint (.npz) at the end")
    p.add_argument("--save-every", type=non_negative_int, default=0, metavar="N",
                   help="also checkpoint every N epochs (default: only at the end)")
    p.add_argument("--resume", nargs="?", const=True, type=_resume_mode, metavar="auto",
                   help="continue the run saved in --save PATH up to --epochs; --resume auto: "
                        "only if that file exists (start afresh otherwise), so a supervisor can "
                        "restart the same command line")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the summary")

    p = sub.add_parser("predict", help="continue a prefix with a trained checkpoint")
    p.add_argument("prefix")
    p.add_argument("--checkpoint", required=True, metavar="PATH")
    p.add_argument("--num-chars", type=non_negative_int, default=50)
    p.add_argument("--temperature", type=non_negative_float, default=0.0,
                   help="0 (default): greedy, as the book; >0: sample from softmax(logits / T)")
    p.add_argument("--top-k", type=non_negative_int, default=0, help="sample only from the k likeliest (0: all)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="sampling seed")
    p.add_argument("--num-samples", type=positive_int, default=1, metavar="M")
    _add_backend_options(p)

    p = sub.add_parser("eval", help="perplexity of a corpus under a checkpoint")
    p.add_argument("--checkpoint", required=True, metavar="PATH")
    p.add_argument("--corpus", help="a UTF-8 text file (default: the embedded Time Machine)")
    p.add_argument("--max-tokens", type=non_negative_int, default=10000, help="0 = the whole corpus")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--num-steps", type=positive_int, default=35)
    p.add_argument("--metrics-json", metavar="PATH")
    _add_backend_options(p)

    p = sub.add_parser("launch", help="data-parallel training: a local group of workers on loopback")
    p.add_argument("--workers", type=positive_int, required=True, metavar="N")
    p.add_argument("--servers", type=positive_int, default=1, metavar="S", help="MXNet parameter servers")
    p.add_argument("--max-restarts", type=non_negative_int, default=0, metavar="K",
                   help="after a process dies, restart the group from the last --save checkpoint, "
                        "up to K times (default: 0, fail at once)")
    p.add_argument("train_argv", nargs=argparse.REMAINDER, metavar="-- train ...",
                   help="the training command the workers run")

    p = sub.add_parser("compare", help="train torch and mxnet from identical weights and batches")
    _add_train_options(p)
    p.add_argument("--device", default="auto", help="auto | cpu | gpu (default: auto)")
    return parser


def main(argv=None):
    from rnnlm import commands

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command == "launch":
            from rnnlm.launch import cmd_launch
            return cmd_launch(args, parser.parse_args)
        return {"train": commands.cmd_train, "predict": commands.cmd_predict,
                "eval": commands.cmd_eval, "compare": commands.cmd_compare}[args.command](args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
