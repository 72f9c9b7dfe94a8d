"""`rnnlm import PATH --out CK.npz`: the book's own checkpoint file as an rnnlm checkpoint."""

from rnnlm.backend import IMPORT_FORMATS
from rnnlm.config import ACTIVATIONS
from rnnlm.interop.convert import import_checkpoint


def add_parser(sub):
    p = sub.add_parser("import", help="turn the book's own checkpoint file into an rnnlm checkpoint")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--out", required=True, metavar="CK.npz")
    p.add_argument(
        "--format",
        default="auto",
        choices=("auto",) + IMPORT_FORMATS,
        help="auto (default): told from the file's content",
    )
    p.add_argument(
        "--activation", choices=ACTIVATIONS, help="vanilla RNN only (default: the source framework's own default)"
    )
    p.add_argument(
        "--corpus",
        help="the text the vocabulary is rebuilt from, as the book does (default: the embedded Time Machine)",
    )
    p.set_defaults(run=run)


def run(args):
    print(import_checkpoint(args.path, args.out, args.format, args.activation, args.corpus))
    return 0
