"""The book's PyTorch checkpoint format, described without importing torch: how to tell a
file of it, its naming scheme, the book's constructor line; reading and writing go through
`torch_native` (which imports torch) when asked.

The book's `RNNModel` state_dict already uses the canonical names, possibly under DDP's
`module.` or torch.compile's `_orig_mod.`.
"""

import zipfile

from rnnlm.model.names import CANONICAL, LINEAR, canonical_name, refuse_unknown

TITLE = "PyTorch state_dict"
DEFAULT_ACTIVATION = "tanh"  # nn.RNN's
_WRAPPERS = ("module.", "_orig_mod.")  # DistributedDataParallel, torch.compile
_LEGACY = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")  # pre-1.6 torch.save


def sniff(path, head):
    """True when the file (whose first bytes are `head`) is a torch.save file."""
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):  # a name not UTF-8...
            return False
        return any(n == "data.pkl" or n.endswith("/data.pkl") for n in names)
    return head.startswith(_LEGACY)


def read(path):
    """{native name: ndarray} of a state_dict file."""
    from . import torch_native

    return torch_native.read_state_dict(path)


def write(cfg, weights, vocab, dtype):
    """The file's bytes for canonical `weights`, as the book's model saves them."""
    from . import torch_native

    del vocab, dtype  # a state_dict holds weights alone, in their own dtype
    return torch_native.state_dict_bytes({TorchNames().to_native(n): w for n, w in weights.items()})


def parse_names(names, source):
    return TorchNames.parse(names, source)


def book_constructor(cfg, dtype="float32"):
    """How to build the book's model that an exported file loads into."""
    del dtype
    layers = f", num_layers={cfg.num_layers}" if cfg.num_layers > 1 else ""
    bidi = ", bidirectional=True" if cfg.bidirectional else ""
    act = ", nonlinearity='relu'" if cfg.cell == "rnn" and cfg.activation == "relu" else ""
    layer = f"nn.{cfg.cell.upper()}({cfg.vocab_size}, {cfg.num_hiddens}{layers}{bidi}{act})"
    return f"RNNModel({layer}, vocab_size={cfg.vocab_size}).load_state_dict(torch.load(PATH))"


class TorchNames:
    """The book's PyTorch state_dict: canonical names behind an optional wrapper prefix."""

    framework = "PyTorch"

    def __init__(self, wrapper=""):
        self.wrapper = wrapper

    def to_native(self, canonical):
        return self.wrapper + canonical

    def describe(self):
        return f"PyTorch state_dict{f' (under {self.wrapper!r})' if self.wrapper else ''}"

    @classmethod
    def parse(cls, names, source):
        """(TorchNames, {native: canonical}); unknown names are a UsageError."""
        names, wrapper = list(names), ""
        for prefix in _WRAPPERS:
            if names and all(n.startswith(prefix) for n in names):
                wrapper += prefix
                names = [n[len(prefix) :] for n in names]
        unknown = [wrapper + n for n in names if not (CANONICAL.fullmatch(n) or LINEAR.fullmatch(n))]
        refuse_unknown(unknown, source, "PyTorch", "rnn.weight_ih_l0, ..., linear.weight, linear.bias")
        mapping = {}
        for n in names:
            m = CANONICAL.fullmatch(n)
            mapping[wrapper + n] = canonical_name(*m.groups()) if m else n
        return cls(wrapper), mapping
