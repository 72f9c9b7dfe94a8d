"""The book's MXNet checkpoint format (a Gluon `.params` file: MXNet's own binary NDArray
list, not a pickle), described without importing mxnet: how to tell a file of it, its naming
schemes, the book's constructor line; reading and writing go through `mxnet_native`.

MXNet 1.x writes a Gluon `rnn.RNN/GRU/LSTM` under one of these schemes (layer k, direction
l = forward, r = reverse):

    save_parameters (1.9)      rnn._unfused.{k}.i2h_weight          (unidirectional)
                               rnn._unfused.{k}.{l|r}_cell.i2h_weight (bidirectional)
    structural, fused          rnn.{l|r}{k}_i2h_weight
    collect_params().save,     rnnmodel0_rnn0_{l|r}{k}_i2h_weight   (any prefix; `arg:` of
    save_params, export                                              export stripped)

with `i2h_weight`, `h2h_weight`, `i2h_bias`, `h2h_bias`, and the output layer as `dense.weight`
(or `dense0_weight`). MXNet's RNN operator and its unfused cells stack gates in PyTorch's order
(GRU r, z, n; LSTM i, f, g, o), checked numerically by the tests, so names map one to one.
"""

import re

from rnnlm.errors import UsageError
from rnnlm.model.names import CANONICAL, LINEAR, canonical_name, refuse_unknown

TITLE = "MXNet .params"
DEFAULT_ACTIVATION = "relu"  # Gluon's rnn.RNN
_MAGIC = (0x112).to_bytes(8, "little")  # what mx.nd.save writes first

_MX_KIND = {"weight_ih": "i2h_weight", "weight_hh": "h2h_weight", "bias_ih": "i2h_bias", "bias_hh": "h2h_bias"}
_CANON_KIND = {mx: canon for canon, mx in _MX_KIND.items()}
_MX_UNFUSED = re.compile(
    r"(?P<prefix>.*)_unfused\.(?P<layer>\d+)\.(?:(?P<dir>[lr])_cell\.)?"
    r"(?P<kind>[ih]2h_(?:weight|bias))"
)
_MX_FUSED = re.compile(r"(?P<prefix>(?:.*[._])?)(?P<dir>[lr])(?P<layer>\d+)_(?P<kind>[ih]2h_(?:weight|bias))")
_MX_DENSE = re.compile(r"(?P<prefix>(?:.*[._])?dense\d*[._])(?P<kind>weight|bias)")
_MX_EXPORT_TAGS = ("arg:", "aux:")


def sniff(path, head):
    """True when the file (whose first bytes are `head`) is an NDArray list."""
    del path
    return head.startswith(_MAGIC)


def read(path):
    """{native name: ndarray} of a .params file."""
    from . import mxnet_native

    return mxnet_native.read_params(path)


def write(cfg, weights, vocab, dtype):
    """The file's bytes for canonical `weights`, under the names `load_parameters` reads."""
    from . import mxnet_native

    del vocab, dtype
    names = MXNetNames.for_config(cfg)
    return mxnet_native.params_bytes({names.to_native(n): w for n, w in weights.items()})


def parse_names(names, source):
    return MXNetNames.parse(names, source)


def book_constructor(cfg, dtype="float32"):
    """How to build the book's model that an exported file loads into."""
    layers = f", num_layers={cfg.num_layers}" if cfg.num_layers > 1 else ""
    bidi = ", bidirectional=True" if cfg.bidirectional else ""
    act = ", activation='tanh'" if cfg.cell == "rnn" and cfg.activation == "tanh" else ""
    layer = f"rnn.{cfg.cell.upper()}({cfg.num_hiddens}{layers}{bidi}{act})"
    cast = ", cast_dtype=True" if dtype != "float32" else ""  # Gluon refuses float64 into float32 unasked
    return f"RNNModel({layer}, vocab_size={cfg.vocab_size}).load_parameters(PATH{cast})"


class MXNetNames:
    """One of the schemes MXNet 1.x writes for the book's Gluon model (see the module doc)."""

    framework = "MXNet"

    def __init__(self, unfused=True, rnn_prefix="rnn.", dense_prefix="dense.", bidirectional=False):
        self.unfused, self.rnn_prefix, self.dense_prefix = unfused, rnn_prefix, dense_prefix
        self.bidirectional = bidirectional

    @classmethod
    def for_config(cls, cfg):
        """The scheme MXNet 1.9's `save_parameters` writes, which `load_parameters` reads."""
        return cls(unfused=True, bidirectional=cfg.bidirectional)

    def to_native(self, canonical):
        m = LINEAR.fullmatch(canonical)
        if m:
            return self.dense_prefix + m.group(1)
        match = CANONICAL.fullmatch(canonical)
        if match is None:
            raise ValueError(f"not a canonical weight name: {canonical}")
        kind, layer, reverse = match.groups()
        if self.unfused:
            cell = ("r_cell." if reverse else "l_cell.") if self.bidirectional else ""
            return f"{self.rnn_prefix}_unfused.{layer}.{cell}{_MX_KIND[kind]}"
        return f"{self.rnn_prefix}{'r' if reverse else 'l'}{layer}_{_MX_KIND[kind]}"

    def describe(self):
        scheme = "save_parameters (_unfused)" if self.unfused else "fused"
        return f"MXNet .params, {scheme} names under {self.rnn_prefix!r} and {self.dense_prefix!r}"

    @classmethod
    def parse(cls, names, source):
        """(MXNetNames, {native: canonical}); unknown or mixed names are a UsageError."""
        mapping, rnn_schemes, dense_prefixes, cells, unknown = {}, set(), set(), set(), []
        for native in names:
            name = native
            for tag in _MX_EXPORT_TAGS:
                name = name[len(tag) :] if name.startswith(tag) else name
            unfused, fused, dense = (_MX_UNFUSED.fullmatch(name), _MX_FUSED.fullmatch(name), _MX_DENSE.fullmatch(name))
            if unfused:
                m = unfused
                rnn_schemes.add((True, m["prefix"]))
                cells.add(m["dir"] is not None)
            elif fused and not dense:
                m = fused
                rnn_schemes.add((False, m["prefix"]))
            elif dense:
                dense_prefixes.add(dense["prefix"])
                mapping[native] = f"linear.{dense['kind']}"
                continue
            else:
                unknown.append(native)
                continue
            mapping[native] = canonical_name(_CANON_KIND[m["kind"]], m["layer"], m["dir"] == "r")
        refuse_unknown(unknown, source, "MXNet", "rnn._unfused.0.i2h_weight, ..., dense.weight, dense.bias")
        if len(rnn_schemes) > 1 or len(dense_prefixes) > 1 or len(cells) > 1:
            raise UsageError(
                f"'{source}' mixes MXNet naming schemes "
                f"({', '.join(sorted(p for _, p in rnn_schemes) + sorted(dense_prefixes))}): "
                "not the parameters of one book RNNModel"
            )
        is_unfused, prefix = next(iter(rnn_schemes), (True, "rnn."))
        bidirectional = bool(cells) and cells.pop()
        return cls(is_unfused, prefix, next(iter(dense_prefixes), "dense."), bidirectional), mapping
