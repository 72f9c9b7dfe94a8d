"""The book's native checkpoint names <-> rnnlm's canonical names, and the model config read
back from names and shapes. Framework-free: the readers in `rnnlm.backends.*_native` hand in
{native name: ndarray} and take back {native name: ndarray}.

PyTorch (the book's `RNNModel` state_dict) already uses the canonical names, possibly under
DDP's `module.` or torch.compile's `_orig_mod.`. MXNet 1.x writes a Gluon `rnn.RNN/GRU/LSTM`
under one of these schemes (layer k, direction l = forward, r = reverse):

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

import numpy as np

from rnnlm.config import GATES, ModelConfig
from rnnlm.errors import UsageError
from rnnlm.model.weights import canonical_shapes

_CELL_BY_GATES = {gates: cell for cell, gates in GATES.items()}
_CANONICAL = re.compile(r"rnn\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")
_LINEAR = re.compile(r"linear\.(weight|bias)")
_TORCH_WRAPPERS = ("module.", "_orig_mod.")  # DistributedDataParallel, torch.compile

_MX_KIND = {"weight_ih": "i2h_weight", "weight_hh": "h2h_weight", "bias_ih": "i2h_bias", "bias_hh": "h2h_bias"}
_CANON_KIND = {mx: canon for canon, mx in _MX_KIND.items()}
_MX_UNFUSED = re.compile(r"(?P<prefix>.*)_unfused\.(?P<layer>\d+)\.(?:(?P<dir>[lr])_cell\.)?"
                         r"(?P<kind>[ih]2h_(?:weight|bias))")
_MX_FUSED = re.compile(r"(?P<prefix>(?:.*[._])?)(?P<dir>[lr])(?P<layer>\d+)_(?P<kind>[ih]2h_(?:weight|bias))")
_MX_DENSE = re.compile(r"(?P<prefix>(?:.*[._])?dense\d*[._])(?P<kind>weight|bias)")
_MX_EXPORT_TAGS = ("arg:", "aux:")


def _canonical(kind, layer, reverse):
    return f"rnn.{kind}_l{int(layer)}{'_reverse' if reverse else ''}"


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
        for prefix in _TORCH_WRAPPERS:
            if names and all(n.startswith(prefix) for n in names):
                wrapper += prefix
                names = [n[len(prefix):] for n in names]
        unknown = [wrapper + n for n in names if not (_CANONICAL.fullmatch(n) or _LINEAR.fullmatch(n))]
        _refuse_unknown(unknown, source, "PyTorch", "rnn.weight_ih_l0, ..., linear.weight, linear.bias")
        mapping = {}
        for n in names:
            m = _CANONICAL.fullmatch(n)
            mapping[wrapper + n] = _canonical(*m.groups()) if m else n
        return cls(wrapper), mapping


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
        m = _LINEAR.fullmatch(canonical)
        if m:
            return self.dense_prefix + m.group(1)
        kind, layer, reverse = _CANONICAL.fullmatch(canonical).groups()
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
                name = name[len(tag):] if name.startswith(tag) else name
            unfused, fused, dense = (_MX_UNFUSED.fullmatch(name), _MX_FUSED.fullmatch(name),
                                     _MX_DENSE.fullmatch(name))
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
            mapping[native] = _canonical(_CANON_KIND[m["kind"]], m["layer"], m["dir"] == "r")
        _refuse_unknown(unknown, source, "MXNet", "rnn._unfused.0.i2h_weight, ..., dense.weight, dense.bias")
        if len(rnn_schemes) > 1 or len(dense_prefixes) > 1 or len(cells) > 1:
            raise UsageError(f"'{source}' mixes MXNet naming schemes "
                             f"({', '.join(sorted(p for _, p in rnn_schemes) + sorted(dense_prefixes))}): "
                             "not the parameters of one book RNNModel")
        unfused, prefix = next(iter(rnn_schemes), (True, "rnn."))
        return cls(unfused, prefix, next(iter(dense_prefixes), "dense."), bool(cells and cells.pop())), mapping


def _refuse_unknown(unknown, source, framework, expected):
    if unknown:
        shown = ", ".join(sorted(unknown)[:5]) + (", ..." if len(unknown) > 5 else "")
        raise UsageError(f"'{source}' has unknown tensor name(s) {shown}: not the book's {framework} "
                         f"RNNModel (expected {expected})")


def to_canonical(names_cls, arrays, source):
    """{canonical name: array} and the naming scheme, from {native name: array}."""
    scheme, mapping = names_cls.parse(arrays, source)
    weights = {}
    for native, canonical in mapping.items():
        if canonical in weights:
            raise UsageError(f"'{source}' holds {canonical} twice (as {native} and another name)")
        weights[canonical] = arrays[native]
    return weights, scheme


def infer_config(weights, scheme, source, activation="tanh"):
    """The ModelConfig that names and shapes describe; missing names and shapes that
    contradict each other are a UsageError naming the native tensor."""
    for needed in ("rnn.weight_hh_l0", "linear.weight"):
        if needed not in weights:
            raise UsageError(f"'{source}' is missing tensor {scheme.to_native(needed)}")
    hh, out = weights["rnn.weight_hh_l0"], weights["linear.weight"]
    if hh.ndim != 2 or out.ndim != 2 or hh.shape[1] == 0 or hh.shape[0] % hh.shape[1] \
            or hh.shape[0] // hh.shape[1] not in _CELL_BY_GATES:
        raise UsageError(f"'{source}': {scheme.to_native('rnn.weight_hh_l0')} has shape {hh.shape}, "
                         "which is not (gates * hidden, hidden) with 1, 3 or 4 gates (rnn, gru, lstm)")
    layers = [int(_CANONICAL.fullmatch(n).group(2)) for n in weights if _CANONICAL.fullmatch(n)]
    cell = _CELL_BY_GATES[hh.shape[0] // hh.shape[1]]
    cfg = ModelConfig(vocab_size=int(out.shape[0]), num_hiddens=int(hh.shape[1]),
                      num_layers=max(layers) + 1, cell=cell,
                      bidirectional=any(n.endswith("_reverse") for n in weights),
                      activation=activation if cell == "rnn" else "tanh")
    expected = canonical_shapes(cfg)
    missing = [scheme.to_native(n) for n in expected if n not in weights]
    if missing:
        raise UsageError(f"'{source}' is missing tensor(s) {', '.join(missing)} "
                         f"for a {describe(cfg)}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise UsageError(f"'{source}': shapes contradict each other: {scheme.to_native(name)} has "
                             f"shape {tuple(weights[name].shape)}, but the other tensors describe a "
                             f"{describe(cfg)}, which needs {shape}")
    return cfg


def check_values(arrays, source):
    """Floating-point, finite arrays only; returns the checkpoint dtype (float64 only when
    every tensor is float64, else float32) and the arrays cast to it."""
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise UsageError(f"'{source}': tensor {name} has dtype {getattr(a, 'dtype', type(a).__name__)}; "
                             "model weights must be floating point")
        if not np.isfinite(a).all():
            raise UsageError(f"'{source}': tensor {name} holds NaN or infinite values")
    dtype = "float64" if arrays and all(a.dtype == np.float64 for a in arrays.values()) else "float32"
    return dtype, {name: a.astype(dtype, copy=False) for name, a in arrays.items()}


def describe(cfg):
    """e.g. '2-layer bidirectional gru, 256 hidden units, 28 tokens'."""
    act = f" ({cfg.activation})" if cfg.cell == "rnn" else ""
    return (f"{cfg.num_layers}-layer {'bidirectional ' if cfg.bidirectional else ''}{cfg.cell}{act}, "
            f"{cfg.num_hiddens} hidden units, {cfg.vocab_size} tokens")
