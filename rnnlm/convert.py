"""`rnnlm import` and `rnnlm export`: the book's native checkpoints <-> rnnlm checkpoints.

    import: native file --(backends/*_native: framework reader)--> {native name: array}
            --(native_names: names -> canonical, config from shapes)--> + book vocabulary
            --> rnnlm .npz
    export: rnnlm .npz --> canonical weights --(native_names)--> native names
            --(framework writer, or backends/onnx_graph)--> bytes --> atomic write

The framework is imported only to read or write its own format; the file's kind is told by
its content, never its name.
"""

import os
import zipfile

from rnnlm.backend import native_module
from rnnlm.checkpoint import load_checkpoint, save_checkpoint
from rnnlm.config import ACTIVATIONS
from rnnlm.corpus import load_lines, tokenize
from rnnlm.errors import UsageError
from rnnlm.outputs import atomic_write, check_writable
from rnnlm.native_names import MXNetNames, TorchNames, check_values, describe, infer_config, to_canonical
from rnnlm.vocab import Vocab
from rnnlm.weights import canonical_shapes

IMPORT_FORMATS = ("auto", "torch", "mxnet")
EXPORT_FORMATS = ("torch", "mxnet", "onnx")
# the activation each framework's book code gets by default: nn.RNN is tanh, Gluon's rnn.RNN relu
SOURCE_ACTIVATION = {"torch": "tanh", "mxnet": "relu"}

_MXNET_MAGIC = (0x112).to_bytes(8, "little")  # what mx.nd.save writes first
_TORCH_LEGACY = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")  # pre-1.6 torch.save
def add_parsers(sub):
    """The `import` and `export` subcommands, on the CLI's subparsers."""
    p = sub.add_parser("import", help="turn the book's PyTorch state_dict or MXNet .params into a checkpoint")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--out", required=True, metavar="CK.npz")
    p.add_argument("--format", default="auto", choices=IMPORT_FORMATS,
                   help="auto (default): told from the file's content")
    p.add_argument("--activation", choices=ACTIVATIONS,
                   help="vanilla RNN only (default: the source framework's: torch tanh, mxnet relu)")
    p.add_argument("--corpus", help="the text the vocabulary is rebuilt from, as the book does "
                                    "(default: the embedded Time Machine)")

    p = sub.add_parser("export", help="write a checkpoint for the book's PyTorch or MXNet model, or as ONNX")
    p.add_argument("checkpoint", metavar="CK.npz")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    p.add_argument("--out", required=True, metavar="PATH")


# ---- files --------------------------------------------------------------------------------

def check_source(path):
    if not os.path.exists(path):
        raise UsageError(f"'{path}' does not exist")
    if os.path.isdir(path):
        raise UsageError(f"'{path}' is a directory, not a checkpoint")


def write_bytes(path, data):
    """All of `data` at `path` or nothing: a temporary file renamed over any old one."""
    try:
        atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror}") from None


def detect_format(path):
    """'torch' or 'mxnet', from the first bytes (and a zip's entries) of an existing file."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):  # a name not UTF-8...
            raise UsageError(f"'{path}' is a truncated or damaged zip archive") from None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch"
        if "__meta__.npy" in names:
            raise UsageError(f"'{path}' is already an rnnlm checkpoint; use it as --checkpoint")
        raise UsageError(f"'{path}' is a zip archive but not a PyTorch checkpoint (no data.pkl)")
    if head.startswith(_TORCH_LEGACY):
        return "torch"
    if head.startswith(_MXNET_MAGIC):
        return "mxnet"
    if head[:1] == b"\x80":
        raise UsageError(f"'{path}' is a Python pickle, not a PyTorch or MXNet checkpoint; "
                         "rnnlm never unpickles arbitrary objects")
    raise UsageError(f"'{path}' is not a PyTorch or MXNet checkpoint (unrecognised content)")


# ---- import -------------------------------------------------------------------------------

def read_native(path, fmt):
    """(ModelConfig without activation override, {canonical: array}, dtype, naming scheme)."""
    check_source(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    module = native_module(fmt)
    arrays = module.read_state_dict(path) if fmt == "torch" else module.read_params(path)
    if not arrays:
        raise UsageError(f"'{path}' holds no tensors")
    dtype, arrays = check_values(arrays, path)
    weights, scheme = to_canonical(TorchNames if fmt == "torch" else MXNetNames, arrays, path)
    return fmt, weights, dtype, scheme


def book_vocab(corpus_path):
    """The vocabulary of the book's char-level data pipeline, over the whole corpus."""
    return Vocab.as_book(tokenize(load_lines(corpus_path), "char"))


def cmd_import(args):
    check_writable(args.out, "--out")  # before any work starts
    fmt, weights, dtype, scheme = read_native(args.path, args.format)
    activation = args.activation or SOURCE_ACTIVATION[fmt]
    cfg = infer_config(weights, scheme, args.path, activation)
    if args.activation and cfg.cell != "rnn":
        raise UsageError(f"--activation applies to a vanilla RNN; '{args.path}' holds a {cfg.cell}")
    vocab = book_vocab(args.corpus)
    if len(vocab) != cfg.vocab_size:
        what = f"corpus '{args.corpus}'" if args.corpus else "the embedded Time Machine"
        raise UsageError(f"vocabulary mismatch: the weights of '{args.path}' have {cfg.vocab_size} "
                         f"tokens, but {what} gives {len(vocab)}; pass the corpus the model "
                         "was trained on with --corpus")
    save_checkpoint(args.out, cfg, vocab, weights, dtype,
                    extra={"imported": {"format": fmt, "names": scheme.describe(),
                                        "source": os.path.basename(args.path)}})
    print(f"imported a {describe(cfg)} ({dtype}) from {scheme.describe()} into {args.out}")
    return 0


# ---- export -------------------------------------------------------------------------------

def native_weights(names, cfg, weights):
    """{native name: array} in the canonical (state_dict) order."""
    return {names.to_native(n): weights[n] for n in canonical_shapes(cfg)}


def book_constructor(fmt, cfg, dtype="float32"):
    """How to build the book's model that the exported file loads into."""
    layers = f", num_layers={cfg.num_layers}" if cfg.num_layers > 1 else ""
    bidi = ", bidirectional=True" if cfg.bidirectional else ""
    if fmt == "torch":
        act = ", nonlinearity='relu'" if cfg.cell == "rnn" and cfg.activation == "relu" else ""
        layer = f"nn.{cfg.cell.upper()}({cfg.vocab_size}, {cfg.num_hiddens}{layers}{bidi}{act})"
        return f"RNNModel({layer}, vocab_size={cfg.vocab_size}).load_state_dict(torch.load(PATH))"
    act = ", activation='tanh'" if cfg.cell == "rnn" and cfg.activation == "tanh" else ""
    layer = f"rnn.{cfg.cell.upper()}({cfg.num_hiddens}{layers}{bidi}{act})"
    cast = ", cast_dtype=True" if dtype != "float32" else ""  # Gluon refuses float64 into float32 unasked
    return f"RNNModel({layer}, vocab_size={cfg.vocab_size}).load_parameters(PATH{cast})"


def cmd_export(args):
    check_writable(args.out, "--out")  # before any work starts
    cfg, vocab, weights, meta = load_checkpoint(args.checkpoint)
    module = native_module(args.format)
    if args.format == "torch":
        data = module.state_dict_bytes(native_weights(TorchNames(), cfg, weights))
        how = book_constructor("torch", cfg)
    elif args.format == "mxnet":
        data = module.params_bytes(native_weights(MXNetNames.for_config(cfg), cfg, weights))
        how = book_constructor("mxnet", cfg, meta.get("dtype", "float32"))
    else:
        data = module.model_bytes(cfg, weights, vocab)
        how = "onnxruntime.InferenceSession(PATH); inputs tokens, h0" + \
              (", c0" if cfg.cell == "lstm" else "") + "; outputs logits, hn" + (", cn" if cfg.cell == "lstm" else "")
    write_bytes(args.out, data)
    print(f"exported a {describe(cfg)} to {args.out} ({args.format})")
    print(f"load with: {how}")
    return 0
