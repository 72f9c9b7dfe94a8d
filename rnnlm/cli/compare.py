"""`rnnlm compare [--backends A,B[,C...]]`: train several backends from identical weights
and batches; print and write their per-epoch perplexities and pairwise relative differences."""

from rnnlm import api
from rnnlm.backend import BACKENDS, parse_names
from rnnlm.cli.options import add_train_options, train_job
from rnnlm.training.metrics import write_json

THRESHOLDS = (1e-9, 1e-6, 1e-3)


def add_parser(sub):
    p = sub.add_parser("compare", help="train backends from identical weights and batches")
    p.add_argument(
        "--backends",
        metavar="A,B[,C...]",
        help=f"the training backends to compare, any of {', '.join(BACKENDS)} (default: every one installed)",
    )
    add_train_options(p)
    p.add_argument("--device", default="auto", help="auto | cpu | gpu")
    p.add_argument(
        "--quiet",
        action="store_true",
        help="accepted for symmetry with train: compare shows no per-epoch progress anyway",
    )
    p.set_defaults(run=run)


def run(args):
    job = train_job(args)
    names = parse_names(args.backends) if args.backends else None
    result = api.compare_configs(
        job.model,
        job.train,
        job.data,
        device=job.device,
        backends=names,
        on_start=lambda name: print(f"training with {name} ...", flush=True),
    )
    print_table(result)
    if job.run.metrics_json:
        write_json(
            job.run.metrics_json,
            {
                **result.runs,
                "max_rel_diff": result.max_rel_diff,
                "rel_diffs": {f"{a}-{b}": result.rel_diffs_of(a, b) for a, b in result.pairs()},
            },
        )
    return 0


def print_table(result):
    names, pairs = result.names, result.pairs()
    per_pair = {pair: result.rel_diffs_of(*pair) for pair in pairs}
    histories = [result.runs[n]["history"] for n in names]
    print(
        f"{'epoch':>5}  "
        + "  ".join(f"{'ppl ' + n:>18}" for n in names)
        + "  "
        + "  ".join(f"{'rel ' + a + '-' + b:>{max(11, len(a + b) + 5)}}" for a, b in pairs)
        + "  "
        + "  ".join(f"{'tok/s ' + n:>11}" for n in names)
    )
    for i, epoch in enumerate(zip(*histories)):
        print(
            f"{epoch[0]['epoch']:>5}  "
            + "  ".join(f"{h['perplexity']:>18.12f}" for h in epoch)
            + "  "
            + "  ".join(f"{per_pair[(a, b)][i]:>{max(11, len(a + b) + 5)}.2e}" for a, b in pairs)
            + "  "
            + "  ".join(f"{h['tokens_per_sec']:>11.1f}" for h in epoch)
        )
    for a, b in pairs:
        print(f"max relative difference {a}-{b} {max(per_pair[(a, b)], default=0.0):.3e}")
    print(f"max relative difference {result.max_rel_diff:.3e}")
    for threshold in THRESHOLDS:
        epoch = result.first_epoch_above(threshold)
        print(f"first epoch above {threshold:.0e}: {epoch if epoch else 'none'}")
