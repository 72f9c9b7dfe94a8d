"""`rnnlm export CK.npz --format F --out PATH`: a checkpoint as the book's own file of a
framework, or as a graph for inference runtimes."""

from rnnlm.backend import EXPORT_FORMATS
from rnnlm.interop.convert import export_checkpoint


def add_parser(sub):
    p = sub.add_parser("export", help="write a checkpoint for the book's model in another framework's format")
    p.add_argument("checkpoint", metavar="CK.npz")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--out", required=True, metavar="PATH")
    p.set_defaults(run=run)


def run(args):
    report, how = export_checkpoint(args.checkpoint, args.out, args.format)
    print(report)
    print(f"load with: {how}")
    return 0
