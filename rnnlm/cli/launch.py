"""`rnnlm launch --workers N [--servers S] [--max-restarts K] -- train ...`: a local
data-parallel group on the chosen backend's engine (see rnnlm.distributed.launch)."""

import argparse

from rnnlm.cli import train as train_command
from rnnlm.cli.options import Parser, integer, train_job
from rnnlm.config import LaunchConfig
from rnnlm.distributed.launch import launch

L = LaunchConfig


def add_parser(sub):
    p = sub.add_parser("launch", help="data-parallel training: a local group of workers on loopback")
    p.add_argument("--workers", type=integer, required=True, metavar="N", help="training processes")
    p.add_argument(
        "--servers", type=integer, default=L.servers, metavar="S", help="parameter servers, for engines that use them"
    )
    p.add_argument(
        "--max-restarts",
        type=integer,
        default=L.max_restarts,
        metavar="K",
        help="after a process dies, restart the group from the last --save checkpoint, "
        "up to K times (default: 0, fail at once)",
    )
    p.add_argument(
        "train_argv", nargs=argparse.REMAINDER, metavar="-- train ...", help="the training command the workers run"
    )
    p.set_defaults(run=run)


def train_parser():
    """The `train` command line alone, parsed as `rnnlm train` parses it."""
    parser = Parser(prog="rnnlm")
    train_command.add_parser(parser.add_subparsers(dest="command", parser_class=Parser))
    return parser


def run(args):
    cfg = LaunchConfig(args.workers, args.servers, args.max_restarts)
    return launch(cfg, args.train_argv, lambda argv: train_job(train_parser().parse_args(argv)))
