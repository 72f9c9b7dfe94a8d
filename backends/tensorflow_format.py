"""The book's TensorFlow weights format, described without importing tensorflow: how to tell
a file of it, its naming scheme, the book's constructor line; reading and writing go through
`tensorflow_native` (h5py, bounded) when asked.

d2l 0.17.6's TF `RNNModel` is a Keras layer holding `self.rnn` (a `SimpleRNN`, `GRU` or `LSTM`
with `time_major=True, return_sequences=True, return_state=True`) and `self.dense`. A Keras
layer has no `save_weights`; its model does, and `tf.keras.Sequential([net])
.save_weights("book.weights.h5")` writes (tf-keras 2.21, as Keras 3):

    layers/rnn_model/rnn/cell/vars/0    kernel            (vocab, gates * hidden)
    layers/rnn_model/rnn/cell/vars/1    recurrent_kernel  (hidden, gates * hidden)
    layers/rnn_model/rnn/cell/vars/2    bias              (gates * hidden,), a GRU's (2, 3 * hidden)
    layers/rnn_model/dense/vars/0       kernel            (hidden, vocab)
    layers/rnn_model/dense/vars/1       bias              (vocab,)

under any one prefix (`rnn_model`, `rnn_model_1`, or a wrapping model's attribute). Keras
multiplies inputs by its kernels (x @ K), PyTorch by its weights' transpose, so kernels are
transposed; Keras' GRU stacks gates as (update, reset, new), PyTorch's as (reset, update,
new), and its `reset_after=True` (the TF2 default) is PyTorch's formula, with the input and
the recurrent bias as the two rows of its bias; its LSTM stacks (i, f, c, o) as PyTorch does,
and SimpleRNN and LSTM carry one bias where PyTorch has two (their sum is the same model:
imported, it is `bias_ih` and `bias_hh` is zero). One unidirectional layer is what the book's
class holds; deeper or bidirectional configs are refused on export.

`read` returns the Keras tensors already in PyTorch's layout, under the names below (Keras'
own, the recurrent half of a bias marked), and `parse_names` maps those to canonical names.
"""

import re
from typing import Dict

import numpy as np

from rnnlm.errors import UsageError
from rnnlm.model.names import refuse_unknown

TITLE = "Keras .weights.h5"
DEFAULT_ACTIVATION = "tanh"  # SimpleRNN's
PREFIX = "layers/rnn_model/"  # what Sequential([net]).save_weights writes for the book's net
_RNN = re.compile(r"(?P<prefix>(?:.*/)?)rnn/cell/vars/(?P<index>[012])")
_DENSE = re.compile(r"(?P<prefix>(?:.*/)?)dense/vars/(?P<index>[01])")
_KIND = {"kernel": "weight_ih", "recurrent_kernel": "weight_hh", "bias": "bias_ih", "recurrent_bias": "bias_hh"}
_LAYERS = {"rnn": "SimpleRNN", "gru": "GRU", "lstm": "LSTM"}


def sniff(path, head):
    """True when the file (whose first bytes are `head`) is an HDF5 file."""
    del path
    from .tensorflow_native import SIGNATURE

    return head.startswith(SIGNATURE)


def _swap_gates(a, hidden):
    """Swap the first two gate blocks of axis 0: PyTorch (r, z, n) <-> Keras (z, r, n); the
    swap is its own inverse."""
    return np.concatenate([a[hidden : 2 * hidden], a[:hidden], a[2 * hidden :]])


def read(path):
    """{Keras name: ndarray in PyTorch's layout} of a weights file."""
    from . import tensorflow_native

    return from_keras(tensorflow_native.read_weights(path), path)


def from_keras(stored, source):
    """The file's datasets, {path: array}, in PyTorch's layout under `parse_names`' names."""
    rnn: Dict[int, np.ndarray] = {}
    dense: Dict[int, np.ndarray] = {}
    unknown, prefixes = [], set()
    for name, a in stored.items():
        m = _RNN.fullmatch(name) or _DENSE.fullmatch(name)
        if m is None:
            unknown.append(name)
            continue
        prefixes.add(m["prefix"])
        (rnn if m.re is _RNN else dense)[int(m["index"])] = a
    refuse_unknown(unknown, source, "TensorFlow", f"{PREFIX}rnn/cell/vars/0, ..., {PREFIX}dense/vars/1")
    if len(prefixes) > 1:
        raise UsageError(f"'{source}' holds the weights of more than one model ({', '.join(sorted(prefixes))})")
    prefix = prefixes.pop() if prefixes else PREFIX
    if sorted(rnn) != [0, 1, 2] or sorted(dense) != [0, 1]:
        raise UsageError(f"'{source}' is missing some of {prefix}rnn/cell/vars/0-2 and {prefix}dense/vars/0-1")
    kernel, recurrent, bias = rnn[0], rnn[1], rnn[2]
    if (
        recurrent.ndim != 2
        or kernel.ndim != 2
        or kernel.shape[1] != recurrent.shape[1]
        or recurrent.shape[0] == 0
        or recurrent.shape[1] % recurrent.shape[0]
    ):
        raise UsageError(
            f"'{source}': the recurrent kernels have shapes {kernel.shape} and {recurrent.shape}, "
            "not (vocab, gates * hidden) and (hidden, gates * hidden)"
        )
    hidden, gates = recurrent.shape[0], recurrent.shape[1] // recurrent.shape[0]
    if gates == 3 and bias.shape != (2, 3 * hidden):
        raise UsageError(
            f"'{source}': a GRU bias of shape {bias.shape}, not (2, {3 * hidden}): a GRU with "
            "reset_after=False computes another model than the book's PyTorch one"
        )
    if gates != 3 and bias.shape != (gates * hidden,):
        raise UsageError(f"'{source}': the recurrent bias has shape {bias.shape}, not ({gates * hidden},)")
    if gates == 3:
        order = lambda a: _swap_gates(a, hidden)  # noqa: E731
        weights = {
            "kernel": order(kernel.T),
            "recurrent_kernel": order(recurrent.T),
            "bias": order(bias[0]),
            "recurrent_bias": order(bias[1]),
        }
    else:
        weights = {
            "kernel": kernel.T,
            "recurrent_kernel": recurrent.T,
            "bias": bias,
            "recurrent_bias": np.zeros_like(bias),
        }
    out = {f"{prefix}rnn/cell/{k}": np.ascontiguousarray(v) for k, v in weights.items()}
    out[f"{prefix}dense/kernel"] = np.ascontiguousarray(dense[0].T)
    out[f"{prefix}dense/bias"] = dense[1]
    return out


def write(cfg, weights, vocab, dtype):
    """The file's bytes for canonical `weights`, as Sequential([net]).save_weights writes them."""
    from . import tensorflow_native

    del vocab, dtype  # the file holds weights alone, in their own dtype
    return tensorflow_native.weights_bytes(to_keras(cfg, weights))


def to_keras(cfg, weights, prefix=PREFIX):
    """{path in the file: array} of canonical `weights` (the empty groups Keras writes too)."""
    if cfg.num_layers != 1 or cfg.bidirectional:
        raise UsageError(
            "the book's TensorFlow RNNModel holds one unidirectional layer; export a "
            f"{cfg.num_layers}-layer{' bidirectional' if cfg.bidirectional else ''} model "
            "to another format"
        )
    if cfg.cell == "rnn" and cfg.activation != "tanh":
        raise UsageError(
            "the book's TensorFlow model uses SimpleRNN's tanh; a relu model would need "
            "SimpleRNN(activation='relu'), which the exported file cannot say"
        )
    w_ih, w_hh = weights["rnn.weight_ih_l0"], weights["rnn.weight_hh_l0"]
    b_ih, b_hh = weights["rnn.bias_ih_l0"], weights["rnn.bias_hh_l0"]
    if cfg.cell == "gru":
        order = lambda a: _swap_gates(a, cfg.num_hiddens)  # noqa: E731
        kernel, recurrent, bias = order(w_ih).T, order(w_hh).T, np.stack([order(b_ih), order(b_hh)])
    else:
        kernel, recurrent, bias = w_ih.T, w_hh.T, b_ih + b_hh
    return {
        f"{prefix}dense/vars/0": weights["linear.weight"].T,
        f"{prefix}dense/vars/1": weights["linear.bias"],
        f"{prefix}rnn/cell/vars/0": kernel,
        f"{prefix}rnn/cell/vars/1": recurrent,
        f"{prefix}rnn/cell/vars/2": bias,
        f"{prefix}rnn/vars/": None,
        f"{prefix}vars/": None,
        "vars/": None,
    }


def parse_names(names, source):
    return KerasNames.parse(names, source)


def book_constructor(cfg, dtype="float32"):
    """How to build the book's model that an exported file loads into."""
    floatx = "tf.keras.backend.set_floatx('float64'); " if dtype == "float64" else ""
    begin = f"net.begin_state(batch_size=1, dtype=tf.{dtype})"
    layer = (
        f"tf.keras.layers.{_LAYERS[cfg.cell]}({cfg.num_hiddens}, time_major=True, "
        "return_sequences=True, return_state=True)"
    )
    return (
        f"{floatx}net = d2l.RNNModel({layer}, vocab_size={cfg.vocab_size}); "
        f"net(tf.zeros((1, 1), tf.int32), {begin}); "
        "tf.keras.Sequential([net]).load_weights(PATH)  # TF_USE_LEGACY_KERAS=1, tf-keras"
    )


class KerasNames:
    """The book's Keras model under one prefix: `read`'s names <-> canonical ones."""

    framework = "TensorFlow"

    def __init__(self, prefix=PREFIX):
        self.prefix = prefix

    def to_native(self, canonical):
        if canonical.startswith("linear."):
            return f"{self.prefix}dense/{canonical.split('.')[1].replace('weight', 'kernel')}"
        kind = canonical.split(".")[1].rsplit("_l", 1)[0]
        return f"{self.prefix}rnn/cell/{next(k for k, v in _KIND.items() if v == kind)}"

    def describe(self):
        return f"Keras .weights.h5 under {self.prefix!r}"

    @classmethod
    def parse(cls, names, source):
        """(KerasNames, {native: canonical}); unknown names are a UsageError."""
        mapping, unknown, prefixes = {}, [], set()
        for name in names:
            m = re.fullmatch(r"(?P<prefix>(?:.*/)?)(?:rnn/cell/(?P<rnn>\w+)|dense/(?P<dense>kernel|bias))", name)
            if m is None or (m["rnn"] and m["rnn"] not in _KIND):
                unknown.append(name)
                continue
            prefixes.add(m["prefix"])
            mapping[name] = (
                f"rnn.{_KIND[m['rnn']]}_l0" if m["rnn"] else f"linear.{'weight' if m['dense'] == 'kernel' else 'bias'}"
            )
        refuse_unknown(unknown, source, "TensorFlow", f"{PREFIX}rnn/cell/kernel, ..., {PREFIX}dense/bias")
        return cls(prefixes.pop() if len(prefixes) == 1 else PREFIX), mapping
