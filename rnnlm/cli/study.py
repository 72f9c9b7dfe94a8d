"""`rnnlm study NAME`: its parser and what it prints (the study itself is rnnlm.study.grid)."""

import argparse

from rnnlm.backend import BACKENDS
from rnnlm.study.grid import STUDIES


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_parser(sub):
    p = sub.add_parser("study", help="answer one of the chapter's exercises with a grid of runs")
    p.add_argument(
        "name", choices=STUDIES, help="scratch (ex. 1), overfit (2), autoregressive (3), depth (4), compress (5)"
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--backend", help="one training backend (default: the first installed)")
    group.add_argument("--backends", help=f"several, comma-separated, e.g. {','.join(BACKENDS[:2])}")
    p.add_argument("--quick", action="store_true", help="a small grid (for tests; minutes, not hours)")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="runs in parallel processes, one thread each (results identical to --jobs 1)",
    )
    p.add_argument(
        "--out",
        default="studies",
        metavar="DIR",
        help="writes DIR/NAME.json, .md, .png; finished runs are kept in DIR/NAME.runs/",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def backends_of(args):
    if args.backends is not None:
        return [b.strip() for b in args.backends.split(",") if b.strip()]
    return [args.backend] if args.backend else None


def run(args):
    from rnnlm.study.grid import run_study

    result = run_study(args.name, backends_of(args), args.quick, args.jobs, args.out, args.quiet)
    print(
        f"study {result.name}: {len(result.runs)} runs ({result.reused} reused); wrote "
        + ", ".join(result.files.values())
    )
    print(result.answer)
    return 0
