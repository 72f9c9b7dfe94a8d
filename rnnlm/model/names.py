"""Native checkpoint names <-> rnnlm's canonical names, and the model config read back from
names and shapes. Framework-free and format-neutral: each format's naming scheme (in
`rnnlm.backends.*_format`) maps its names with the helpers here; its reader hands in
{native name: ndarray}.

The canonical names are the book's PyTorch `RNNModel` state_dict: `rnn.weight_ih_l{k}`,
`rnn.weight_hh_l{k}`, `rnn.bias_ih_l{k}`, `rnn.bias_hh_l{k}` (`_reverse` for the second
direction) and `linear.weight`, `linear.bias`.
"""

import re

import numpy as np

from rnnlm.config import GATES, MAX_LAYERS, ModelConfig
from rnnlm.errors import UsageError
from rnnlm.model.weights import canonical_shapes

_CELL_BY_GATES = {gates: cell for cell, gates in GATES.items()}
CANONICAL = re.compile(r"rnn\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?")
LINEAR = re.compile(r"linear\.(weight|bias)")


class LayerLimit(UsageError):
    """A name's layer index beyond MAX_LAYERS (the caller adds which file)."""


def canonical_name(kind, layer, reverse):
    """e.g. rnn.weight_ih_l1_reverse. `layer`, a file's digits, is bounded before it is a
    number: a name `rnn.weight_ih_l99999999` must not make the model 10^8 layers deep."""
    if len(str(layer)) > len(str(MAX_LAYERS)) or int(layer) >= MAX_LAYERS:
        raise LayerLimit(
            f"a tensor name claims layer {str(layer)[:20]}; rnnlm reads models of at most {MAX_LAYERS} layers"
        )
    return f"rnn.{kind}_l{int(layer)}{'_reverse' if reverse else ''}"


def refuse_unknown(unknown, source, framework, expected):
    if unknown:
        shown = ", ".join(sorted(unknown)[:5]) + (", ..." if len(unknown) > 5 else "")
        raise UsageError(
            f"'{source}' has unknown tensor name(s) {shown}: not the book's {framework} RNNModel (expected {expected})"
        )


def to_canonical(parse_names, arrays, source):
    """{canonical name: array} and the naming scheme, from {native name: array};
    `parse_names(names, source)` is the format's: (scheme, {native: canonical})."""
    try:
        scheme, mapping = parse_names(arrays, source)
    except LayerLimit as exc:
        raise UsageError(f"'{source}': {exc}") from None
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
    if (
        hh.ndim != 2
        or out.ndim != 2
        or hh.shape[1] == 0
        or hh.shape[0] % hh.shape[1]
        or hh.shape[0] // hh.shape[1] not in _CELL_BY_GATES
    ):
        raise UsageError(
            f"'{source}': {scheme.to_native('rnn.weight_hh_l0')} has shape {hh.shape}, "
            "which is not (gates * hidden, hidden) with 1, 3 or 4 gates (rnn, gru, lstm)"
        )
    layers = [int(m.group(2)) for m in map(CANONICAL.fullmatch, weights) if m]
    cell = _CELL_BY_GATES[hh.shape[0] // hh.shape[1]]
    cfg = ModelConfig(
        vocab_size=int(out.shape[0]),
        num_hiddens=int(hh.shape[1]),
        num_layers=max(layers) + 1,
        cell=cell,
        bidirectional=any(n.endswith("_reverse") for n in weights),
        activation=activation if cell == "rnn" else "tanh",
    )
    expected = canonical_shapes(cfg)
    missing = [scheme.to_native(n) for n in expected if n not in weights]
    if missing:
        raise UsageError(f"'{source}' is missing tensor(s) {', '.join(missing)} for a {describe(cfg)}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise UsageError(
                f"'{source}': shapes contradict each other: {scheme.to_native(name)} has "
                f"shape {tuple(weights[name].shape)}, but the other tensors describe a "
                f"{describe(cfg)}, which needs {shape}"
            )
    return cfg


def check_values(arrays, source):
    """Floating-point, finite arrays only; returns the checkpoint dtype (float64 only when
    every tensor is float64, else float32) and the arrays cast to it."""
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise UsageError(
                f"'{source}': tensor {name} has dtype {getattr(a, 'dtype', type(a).__name__)}; "
                "model weights must be floating point"
            )
        if not np.isfinite(a).all():
            raise UsageError(f"'{source}': tensor {name} holds NaN or infinite values")
    dtype = "float64" if arrays and all(a.dtype == np.float64 for a in arrays.values()) else "float32"
    return dtype, {name: a.astype(dtype, copy=False) for name, a in arrays.items()}


def describe(cfg):
    """e.g. '2-layer bidirectional gru, 256 hidden units, 28 tokens'."""
    act = f" ({cfg.activation})" if cfg.cell == "rnn" else ""
    return (
        f"{cfg.num_layers}-layer {'bidirectional ' if cfg.bidirectional else ''}{cfg.cell}{act}, "
        f"{cfg.num_hiddens} hidden units, {cfg.vocab_size} tokens"
    )
