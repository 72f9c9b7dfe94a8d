"""The model as an ONNX graph, built with `onnx.helper`, and read back.

Interface (float32; the ONNX Runtime RNN kernels are float32):

    inputs   tokens  int64 (batch, steps)                the book's `inputs`
             h0      (layers * directions, batch, hidden)
             c0      the same, LSTM only
    outputs  logits  (steps * batch, vocab), time-major   the book's `output`
             hn, cn  the final state, shaped as h0/c0

so feeding hn back as h0 steps it one character at a time. Graph: tokens^T gathers rows of
an identity matrix (the one-hot input); each layer is one ONNX RNN/GRU/LSTM op (direction
forward or bidirectional) whose (steps, directions, batch, hidden) output is regrouped to
(steps, batch, directions * hidden) for the next; a Gemm makes the logits.

ONNX orders gates differently from PyTorch (the canonical layout): GRU z, r, h against
r, z, n, and LSTM i, o, f, c against i, f, g, o. GRU needs linear_before_reset=1 to apply
the reset gate after the recurrent matmul, as PyTorch and MXNet do.

The config and vocabulary travel in the model's metadata (rnnlm.model, rnnlm.vocab), so an
exported file is also an rnnlm checkpoint (`rnnlm.checkpoints.file.load_checkpoint` reads it).
"""

import json


import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rnnlm.config import ModelConfig
from rnnlm.errors import UsageError
from rnnlm.io.limits import loads_json
from rnnlm.library_errors import library_reason
from rnnlm.model.weights import canonical_shapes, rnn_weight_names

OPSET = 21  # recent, and read by ONNX Runtime >= 1.18 (22 only added bfloat16 RNNs)
IR_VERSION = 10  # what opset 21 needs; ONNX Runtime >= 1.18 reads it
FORMAT = "rnnlm-onnx"
VERSION = 1
_OPS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}
# ONNX gate block k comes from PyTorch gate block _TO_ONNX[cell][k]; _FROM_ONNX inverts it
_TO_ONNX = {"rnn": [0], "gru": [1, 0, 2], "lstm": [0, 3, 1, 2]}
_FROM_ONNX = {cell: list(np.argsort(order)) for cell, order in _TO_ONNX.items()}


def _gates(array, order):
    """Reorder the gate blocks stacked along axis 0."""
    blocks = np.split(np.asarray(array), len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def state_names(cfg):
    return ["h0", "c0"] if cfg.cell == "lstm" else ["h0"]


def build_model(cfg, weights, vocab=None):
    """An onnx.ModelProto of the model, checked with onnx.checker; with `vocab`, an rnnlm
    checkpoint too (the config and vocabulary in its metadata)."""
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    H, D, V = cfg.num_hiddens, cfg.num_directions, cfg.vocab_size
    inits = [
        numpy_helper.from_array(np.eye(V, dtype=np.float32), "one_hot_table"),
        numpy_helper.from_array(np.array([1, 0], dtype=np.int64), "perm_tn"),
        numpy_helper.from_array(np.array([0, 0, -1], dtype=np.int64), "shape_tnf"),
        numpy_helper.from_array(np.array([-1, D * H], dtype=np.int64), "shape_rows"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
    ]
    nodes = [
        helper.make_node("Transpose", ["tokens"], ["tokens_tn"], perm=[1, 0]),
        helper.make_node("Gather", ["one_hot_table", "tokens_tn"], ["x0"], axis=0),
    ]
    x = "x0"
    finals: dict[str, list[str]] = {s: [] for s in state_names(cfg)}
    for layer in range(cfg.num_layers):
        W, R, B = [], [], []
        for _, _, (w_ih, w_hh, b_ih, b_hh) in rnn_weight_names(cfg)[layer * D : (layer + 1) * D]:
            W.append(_gates(weights[w_ih], _TO_ONNX[cfg.cell]))
            R.append(_gates(weights[w_hh], _TO_ONNX[cfg.cell]))
            B.append(
                np.concatenate([_gates(weights[b_ih], _TO_ONNX[cfg.cell]), _gates(weights[b_hh], _TO_ONNX[cfg.cell])])
            )
        p = f"rnn.l{layer}."
        inits += [numpy_helper.from_array(f32(np.stack(a)), p + n) for a, n in ((W, "W"), (R, "R"), (B, "B"))]
        inits += [
            numpy_helper.from_array(np.array([layer * D], dtype=np.int64), p + "begin"),
            numpy_helper.from_array(np.array([(layer + 1) * D], dtype=np.int64), p + "end"),
        ]
        own = []
        for s in state_names(cfg):  # this layer's rows of the state
            nodes.append(helper.make_node("Slice", [s, p + "begin", p + "end", "axis0"], [p + s]))
            own.append(p + s)
        attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
        if cfg.cell == "rnn":
            attrs["activations"] = ["Relu" if cfg.activation == "relu" else "Tanh"] * D
        if cfg.cell == "gru":
            attrs["linear_before_reset"] = 1
        outs = [p + "Y"] + [p + s.replace("0", "n") for s in state_names(cfg)]
        nodes.append(
            helper.make_node(
                _OPS[cfg.cell],
                [x, p + "W", p + "R", p + "B", ""] + own,
                outs,
                name=f"{_OPS[cfg.cell]}_l{layer}",
                **attrs,
            )
        )
        for s, out in zip(state_names(cfg), outs[1:]):
            finals[s].append(out)
        # (steps, directions, batch, hidden) -> (steps, batch, directions * hidden)
        nodes += [
            helper.make_node("Transpose", [p + "Y"], [p + "Y_tnd"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [p + "Y_tnd", "shape_tnf"], [p + "out"]),
        ]
        x = p + "out"
    for s, parts in finals.items():
        nodes.append(helper.make_node("Concat", parts, [s.replace("0", "n")], axis=0))
    inits += [
        numpy_helper.from_array(f32(weights["linear.weight"]), "linear.weight"),
        numpy_helper.from_array(f32(weights["linear.bias"]), "linear.bias"),
    ]
    nodes += [
        helper.make_node("Reshape", [x, "shape_rows"], ["features"]),
        helper.make_node("Gemm", ["features", "linear.weight", "linear.bias"], ["logits"], transB=1),
    ]

    state_shape = [cfg.num_layers * D, "batch", H]
    graph = helper.make_graph(
        nodes,
        "rnnlm",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "steps"])]
        + [helper.make_tensor_value_info(s, TensorProto.FLOAT, state_shape) for s in state_names(cfg)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["rows", V])]
        + [
            helper.make_tensor_value_info(s.replace("0", "n"), TensorProto.FLOAT, state_shape) for s in state_names(cfg)
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rnnlm",
        ir_version=IR_VERSION,
        doc_string="The d2l.ai character RNN language model. Inputs: tokens "
        "(batch, steps) int64 and the state; outputs: logits "
        "(steps * batch, vocab), time-major, and the next state.",
    )
    if vocab is not None:
        helper.set_model_props(
            model,
            {
                "rnnlm.format": FORMAT,
                "rnnlm.version": str(VERSION),
                "rnnlm.model": json.dumps(cfg.to_dict()),
                "rnnlm.vocab": json.dumps(list(vocab.idx_to_token)),
            },
        )
    onnx.checker.check_model(model, full_check=True)
    return model


def model_bytes(cfg, weights, vocab=None):
    return build_model(cfg, weights, vocab).SerializeToString()


def read_checkpoint(path):
    """(model config dict, vocabulary list, {canonical name: array}, meta) of an rnnlm .onnx."""
    try:
        model = onnx.load(path, load_external_data=False)  # a file's own bytes, nothing it names
    except Exception as exc:  # a DecodeError, among others, from protobuf
        raise UsageError(f"checkpoint '{path}' cannot be read as ONNX ({library_reason(exc)})") from None
    props = {p.key: p.value for p in model.metadata_props}
    if any(t.data_location == TensorProto.EXTERNAL for t in model.graph.initializer):
        raise UsageError(f"checkpoint '{path}' keeps tensors in external files, which rnnlm never writes nor follows")
    if props.get("rnnlm.format") != FORMAT:
        raise UsageError(f"checkpoint '{path}' is an ONNX model, but not one rnnlm exported (no rnnlm metadata)")
    if props.get("rnnlm.version") != str(VERSION):
        raise UsageError(
            f"checkpoint '{path}' has rnnlm ONNX version {props.get('rnnlm.version')!r}; "
            f"this rnnlm reads version {VERSION}"
        )
    try:
        cfg = ModelConfig.from_dict(loads_json(props["rnnlm.model"], f"rnnlm.model of '{path}'"))
        vocab = loads_json(props["rnnlm.vocab"], f"rnnlm.vocab of '{path}'")
        names = [t.name for t in model.graph.initializer]
        if len(set(names)) != len(names):  # a second one of a name would silently win
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"initializer(s) {', '.join(twice)[:120]} appear more than once")
        inits = {t.name: np.array(numpy_helper.to_array(t)) for t in model.graph.initializer}
        if 3 * cfg.num_layers + 2 > len(inits):  # before listing names: num_layers may be huge
            raise ValueError(
                f"model.num_layers {cfg.num_layers} is more than the graph's {len(inits)} initializers hold"
            )
        weights = _canonical_weights(cfg, inits)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UsageError(f"checkpoint '{path}' is inconsistent: {str(exc)[:200]}") from None
    _check_graph_is_ours(path, model, cfg, weights)
    return cfg, vocab, weights, {"dtype": "float32", "format": FORMAT}


def _check_graph_is_ours(path, model, cfg, weights):
    """The file's nodes must be exactly those rnnlm writes for its config: operators rnnlm did
    not write (or wrote otherwise) would run nowhere else, so they are refused, not ignored."""
    try:
        expected = build_model(cfg, weights).graph
    except (ValueError, TypeError, onnx.checker.ValidationError) as exc:
        raise UsageError(f"checkpoint '{path}' is inconsistent: {library_reason(exc)}") from None
    ours = [n.SerializeToString() for n in expected.node]
    theirs = [n.SerializeToString() for n in model.graph.node]
    if ours == theirs and not _same_initializers(expected, model.graph):
        raise UsageError(
            f"checkpoint '{path}' is an ONNX graph whose initializers differ from those "
            "rnnlm writes for its config (an onnxruntime run would not compute what rnnlm does)"
        )
    if ours != theirs:
        # a damaged string field comes back from protobuf as bytes: named as text either way
        ops = {n.op_type if isinstance(n.op_type, str) else repr(n.op_type) for n in model.graph.node}
        foreign = sorted(ops - {n.op_type for n in expected.node})
        what = (
            f"operators rnnlm does not write ({', '.join(foreign)})"
            if foreign
            else "nodes that differ from the graph rnnlm writes for its config"
        )
        raise UsageError(f"checkpoint '{path}' is an ONNX graph with {what}; rnnlm reads only the graphs it exported")


def _same_initializers(expected, graph):
    """The same names, and every value (the plumbing as well as the weights) the same, to the
    bit and the dtype: rnnlm computes from the weights alone, onnxruntime from all of them."""
    theirs = {t.name: t for t in graph.initializer}
    if {t.name for t in expected.initializer} != set(theirs):
        return False
    for t in expected.initializer:
        a, b = numpy_helper.to_array(t), numpy_helper.to_array(theirs[t.name])
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            return False
    return True


def _canonical_weights(cfg, inits):
    D, out = cfg.num_directions, {}
    names = rnn_weight_names(cfg)
    for layer in range(cfg.num_layers):
        p = f"rnn.l{layer}."
        W, R, B = inits[p + "W"], inits[p + "R"], inits[p + "B"]
        for d, (_, _, (w_ih, w_hh, b_ih, b_hh)) in enumerate(names[layer * D : (layer + 1) * D]):
            b_w, b_r = np.split(B[d], 2)
            for name, a in ((w_ih, W[d]), (w_hh, R[d]), (b_ih, b_w), (b_hh, b_r)):
                out[name] = _gates(a, _FROM_ONNX[cfg.cell])
    out["linear.weight"], out["linear.bias"] = inits["linear.weight"], inits["linear.bias"]
    for name, shape in canonical_shapes(cfg).items():
        if out[name].shape != shape:
            raise ValueError(f"{name} has shape {out[name].shape}, expected {shape}")
    return out
