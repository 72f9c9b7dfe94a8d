"""Hypothesis strategies that build each reader's files from the format's grammar (issue 28):
every field a reader parses is drawn from values that matter (valid ones, the edges of their
ranges, wrong types, huge claims), and the assembled bytes are sometimes flipped or cut.
`tests/support/grammar_fuzz.py` runs a reader over them; `tests/support/fuzz_corpus.py` keeps the cases that
once failed."""

import io
import json
import math
import struct
import zipfile

import numpy as np
from hypothesis import strategies as st

# ---- values ---------------------------------------------------------------------------------

BIG_INTS = [0, 1, -1, 2, 3, 7, 255, 1023, 1024, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**64, 2**100, 2**128, 10**30]
FLOATS = [0.0, -0.0, 1.0, 0.5, -1.5, 1e-300, 1e308, 3.4e38, math.inf, -math.inf, math.nan, 12.5]
STRINGS = [
    "",
    "a",
    "<unk>",
    "\ud800",
    "$\\foo{$",
    "$x^$",
    "\x00",
    "é一",
    "x" * 1000,
    "../../etc/passwd",
    "inf",
    "nan",
    "float32",
    "rnn",
    "lstm",
]

ints = st.one_of(st.sampled_from(BIG_INTS), st.integers(-5, 40))
floats = st.one_of(st.sampled_from(FLOATS), st.floats(allow_nan=True, allow_infinity=True))
strings = st.one_of(st.sampled_from(STRINGS), st.text(max_size=20))
# protobuf strings (ONNX names, metadata) cannot hold a lone surrogate: the writer refuses it
proto_strings = st.one_of(
    st.sampled_from([s for s in STRINGS if s != "\ud800"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
scalars = st.one_of(st.none(), st.booleans(), ints, floats, strings)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)),
    max_leaves=12,
)


def deep(depth, opener="[", closer="]"):
    return opener * depth + closer * depth


# ---- edits of a valid JSON document ---------------------------------------------------------


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, prefix + (i,))


@st.composite
def edited(draw, doc, edits=st.integers(0, 3)):
    """`doc` (a JSON value) with a few fields replaced, deleted or added."""
    doc = json.loads(json.dumps(doc))
    for _ in range(draw(edits)):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if how == "replace":
            parent[path[-1]] = draw(json_values)
        elif how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(strings)] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return doc


@st.composite
def damaged(draw, data):
    """`data` with, sometimes, a few bits flipped, a cut or a repeat."""
    data = bytearray(data)
    kind = draw(st.sampled_from(["none", "none", "flip", "cut", "repeat"]))
    if kind == "flip" and data:
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    elif kind == "cut" and data:
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif kind == "repeat" and data:
        at = draw(st.integers(0, len(data) - 1))
        data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def json_text(doc):
    return json.dumps(doc, allow_nan=True)


@st.composite
def json_file(draw, doc):
    """A JSON file of `doc` edited, or one of the texts a JSON reader meets only in the wild."""
    kind = draw(st.sampled_from(["edited"] * 6 + ["deep", "1e400", "bad-utf8", "empty", "not-json"]))
    if kind == "edited":
        data = json_text(draw(edited(doc))).encode("utf-8", "surrogatepass")
    elif kind == "deep":
        data = ('{"history": ' + deep(draw(st.sampled_from([63, 65, 1000, 100_000]))) + "}").encode()
    elif kind == "1e400":
        data = json_text(doc).replace("1", "1e400", 1).encode()
    elif kind == "bad-utf8":
        data = b'{"history": "\xff\xfe"}'
    elif kind == "empty":
        data = b""
    else:
        data = b"{" + draw(st.binary(max_size=40))
    return draw(damaged(data))


# ---- .npz -------------------------------------------------------------------------------------

DESCRS = [
    "<f4",
    "<f8",
    ">f4",
    "<f2",
    "|b1",
    "<i8",
    "<U5",
    "<U2000000000",
    "|O",
    "<c8",
    "|V8",
    "<f4garbage",
    "[('a', '<f4')]",
]


def npy_header(descr, fortran, shape, version=(1, 0)):
    text = "{'descr': %s, 'fortran_order': %r, 'shape': %r, }" % (
        descr if descr.startswith("[") else repr(descr),
        fortran,
        shape,
    )
    header = text.encode("latin1")
    size_format = "<H" if version == (1, 0) else "<I"
    pre = 10 if version == (1, 0) else 12
    header += b" " * ((-(len(header) + pre + 1)) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_format, len(header)) + header


@st.composite
def npy_member(draw, array):
    """An .npy member for `array`: as np.save writes it, or with a header field redrawn."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    valid = buffer.getvalue()
    kind = draw(st.sampled_from(["valid"] * 3 + ["descr", "shape", "fortran", "version", "payload"]))
    if kind == "valid":
        return valid
    descr, shape, fortran, version = array.dtype.str, array.shape, False, (1, 0)
    payload = array.tobytes()
    if kind == "descr":
        descr = draw(st.sampled_from(DESCRS))
    elif kind == "shape":
        shape = tuple(draw(st.lists(st.one_of(ints, st.booleans()), max_size=draw(st.sampled_from([3, 40])))))
    elif kind == "fortran":
        fortran = draw(st.one_of(st.booleans(), st.integers(), st.none()))
    elif kind == "version":
        version = draw(st.sampled_from([(2, 0), (3, 0), (0, 9), (9, 9)]))
    else:
        payload = payload[: draw(st.integers(0, len(payload)))] + draw(st.binary(max_size=16))
    return npy_header(descr, fortran, shape, version) + payload


METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@st.composite
def npz_file(draw, arrays, meta):
    """A checkpoint .npz: members from `arrays` (and `meta`, edited) in a zip whose methods,
    flags and names are drawn too."""
    if draw(st.integers(0, 4)) == 0:  # as rnnlm writes it: the reader must accept these
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.array(json_text(meta)), **arrays)
        return buffer.getvalue()
    members = {}
    meta_text = json_text(draw(edited(meta))) if draw(st.booleans()) else json_text(meta)
    if draw(st.integers(0, 9)) == 0:
        meta_text = '{"format": "rnnlm-checkpoint", "x": ' + deep(draw(st.sampled_from([65, 100_000]))) + "}"
    members["__meta__.npy"] = draw(npy_member(np.array(meta_text)))
    for name, a in arrays.items():
        if draw(st.integers(0, 9)):
            members[name + ".npy"] = draw(npy_member(a))
    for _ in range(draw(st.integers(0, 2))):
        members[draw(st.sampled_from(["x.npy", "../up.npy", "a/b.npy", "plain.txt", "rnn.weight_ih_l9.npy"]))] = draw(
            npy_member(np.zeros(draw(st.integers(0, 4)), np.float32))
        )
    method = draw(st.sampled_from(METHODS))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    data = bytearray(buffer.getvalue())
    flag = draw(st.sampled_from([0, 0, 0, 0x1, 0x8, 0x40]))
    if flag:
        for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = data.find(sig)
            while i >= 0:
                data[i + at] |= flag
                i = data.find(sig, i + 4)
    return draw(damaged(bytes(data)))


# ---- names that encode layers ------------------------------------------------------------------

LAYERS = st.one_of(st.integers(0, 2), st.sampled_from([1023, 1024, 99_999_999, 10**30]))


@st.composite
def torch_name(draw):
    kind = draw(st.sampled_from(["weight_ih", "weight_hh", "bias_ih", "bias_hh", "linear", "other"]))
    wrapper = draw(st.sampled_from(["", "", "module.", "_orig_mod."]))
    if kind == "linear":
        return wrapper + draw(st.sampled_from(["linear.weight", "linear.bias"]))
    if kind == "other":
        return wrapper + draw(strings)
    return f"{wrapper}rnn.{kind}_l{draw(LAYERS)}{draw(st.sampled_from(['', '', '_reverse']))}"


@st.composite
def mxnet_name(draw):
    kind = draw(st.sampled_from(["i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias"]))
    layer = draw(LAYERS)
    scheme = draw(st.sampled_from(["unfused", "unfused-bi", "fused", "collect", "dense", "other"]))
    if scheme == "unfused":
        return f"rnn._unfused.{layer}.{kind}"
    if scheme == "unfused-bi":
        return f"rnn._unfused.{layer}.{draw(st.sampled_from('lr'))}_cell.{kind}"
    if scheme == "fused":
        return f"rnn.{draw(st.sampled_from('lr'))}{layer}_{kind}"
    if scheme == "collect":
        return f"{draw(st.sampled_from(['', 'arg:']))}rnnmodel0_rnn0_l{layer}_{kind}"
    if scheme == "dense":
        return draw(st.sampled_from(["dense.weight", "dense.bias", "dense0_weight", "dense0_bias"]))
    return draw(strings)


# ---- .params ----------------------------------------------------------------------------------

MX_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 4: np.int32, 6: np.int64}


@st.composite
def params_file(draw):
    """An NDArray list: each array's magic, storage type, ndim, dims, context and dtype flag
    drawn, its data as long as they claim (or not), then the names and their count."""
    if draw(st.integers(0, 4)) == 0:  # a valid book .params, to be accepted
        from rnnlm.backends.mxnet_native import params_bytes

        hidden, vocab = draw(st.integers(1, 4)), draw(st.integers(2, 5))
        shapes = {
            "rnn._unfused.0.i2h_weight": (hidden, vocab),
            "rnn._unfused.0.h2h_weight": (hidden, hidden),
            "rnn._unfused.0.i2h_bias": (hidden,),
            "rnn._unfused.0.h2h_bias": (hidden,),
            "dense.weight": (vocab, hidden),
            "dense.bias": (vocab,),
        }
        return params_bytes({n: np.zeros(shape, np.float32) for n, shape in shapes.items()})
    count = draw(st.integers(0, 5))
    parts = [struct.pack("<QQ", draw(st.sampled_from([0x112, 0x112, 0x112, 0x113])), 0)]
    claimed = draw(st.one_of(st.just(count), ints))
    parts.append(struct.pack("<Q", claimed % 2**64))
    for _ in range(count):
        magic = draw(st.sampled_from([0xF993FAC9, 0xF993FACA, 0xF993FAC9, 0x12345678]))
        stype = draw(st.sampled_from([0, 0, 0, 1, 2, -1, 7]))
        shape = draw(st.lists(st.integers(0, 6), min_size=1, max_size=3))
        if draw(st.integers(0, 7)) == 0:
            shape[0] = draw(st.sampled_from([2**31 - 1, 2**40, 2**62]))
        ndim = draw(st.one_of(st.just(len(shape)), st.sampled_from([0, 33, 2**31 - 1, -1])))
        flag = draw(st.one_of(st.sampled_from(list(MX_DTYPES)), st.integers(-2, 14)))
        parts.append(struct.pack("<Iii", magic, stype, ndim))
        parts.append(struct.pack(f"<{len(shape)}q", *shape))
        parts.append(struct.pack("<iii", draw(st.sampled_from([1, 1, 2, 9])), 0, flag))
        dtype = np.dtype(MX_DTYPES.get(flag, np.float32))
        size = min(int(np.prod(shape, dtype=object)), 64) * dtype.itemsize
        size = draw(st.sampled_from([size, size, max(size - 1, 0), size + 8]))
        parts.append(np.arange(size, dtype=np.uint8).tobytes())
    names = [draw(mxnet_name()) for _ in range(draw(st.one_of(st.just(count), st.integers(0, 6))))]
    parts.append(struct.pack("<Q", draw(st.one_of(st.just(len(names)), ints)) % 2**64))
    for name in names:
        raw = name.encode("utf-8", "surrogatepass")
        parts.append(struct.pack("<Q", draw(st.one_of(st.just(len(raw)), ints)) % 2**64) + raw)
    return draw(damaged(b"".join(parts)))


# ---- .pt ----------------------------------------------------------------------------------------


@st.composite
def pt_file(draw):
    """torch.save of a dict: names from the naming grammar; tensors of drawn dtype, shape and
    view (stride-0 expansions, overlapping strides, offsets, the meta device); non-tensors."""
    import torch

    dtypes = [torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.bool]
    state = {}
    if draw(st.integers(0, 4)) == 0:  # a valid book state_dict, to be accepted
        hidden, vocab = draw(st.integers(1, 4)), draw(st.integers(2, 5))
        state = {
            "rnn.weight_ih_l0": torch.zeros(hidden, vocab),
            "rnn.weight_hh_l0": torch.zeros(hidden, hidden),
            "rnn.bias_ih_l0": torch.zeros(hidden),
            "rnn.bias_hh_l0": torch.zeros(hidden),
            "linear.weight": torch.zeros(vocab, hidden),
            "linear.bias": torch.zeros(vocab),
        }
    for _ in range(draw(st.integers(0, 6)) if not state else draw(st.integers(0, 1))):
        shape = draw(st.lists(st.integers(0, 5), max_size=draw(st.sampled_from([2, 2, 6]))))
        dtype = draw(st.sampled_from(dtypes))
        view = draw(st.sampled_from(["plain"] * 4 + ["expand", "strided", "offset", "transpose", "meta", "value"]))
        base = torch.zeros(shape, dtype=dtype)
        if view == "expand":
            value = torch.zeros(1, dtype=dtype).expand(draw(st.sampled_from([10, 100_000])), 100_000)
        elif view == "strided":
            value = torch.zeros(2000, dtype=dtype).as_strided((1000, 1000), (draw(st.integers(0, 1)), 1))
        elif view == "offset":
            value = torch.zeros(20, dtype=dtype)[draw(st.integers(0, 19)) :]
        elif view == "transpose" and base.dim() >= 2:
            value = base.transpose(0, 1)
        elif view == "meta":
            value = torch.empty(shape, dtype=dtype, device="meta")
        elif view == "value":
            value = draw(json_values)
        else:
            value = base
        state[draw(torch_name())] = value
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return draw(damaged(buffer.getvalue()))


# ---- ONNX ---------------------------------------------------------------------------------------


@st.composite
def onnx_file(draw, model_bytes):
    """An exported graph with its initializers, metadata and nodes edited: a name twice, a
    plumbing value changed, a dtype changed, metadata JSON from the grammar, external data."""
    from onnx import ModelProto, TensorProto, numpy_helper

    model = ModelProto()
    model.ParseFromString(model_bytes)
    inits = model.graph.initializer
    for _ in range(draw(st.integers(0, 3))):
        t = inits[draw(st.integers(0, len(inits) - 1))]
        if t.data_location == TensorProto.EXTERNAL:
            continue  # its values are gone: the reader must refuse it as it is
        a = numpy_helper.to_array(t)
        how = draw(st.sampled_from(["duplicate", "value", "dtype", "unknown", "remove", "external", "props", "node"]))
        if how == "duplicate":
            inits.append(numpy_helper.from_array(a + 1 if a.dtype.kind == "f" else a, t.name))
        elif how == "value":
            t.CopyFrom(numpy_helper.from_array(a * 2 + 1, t.name))
        elif how == "dtype":
            t.CopyFrom(
                numpy_helper.from_array(a.astype(draw(st.sampled_from([np.float64, np.int32, np.float16]))), t.name)
            )
        elif how == "unknown":
            inits.append(numpy_helper.from_array(np.zeros(draw(st.integers(0, 4)), np.float32), draw(proto_strings)))
        elif how == "remove" and len(inits) > 1:
            inits.remove(t)
        elif how == "external":
            t.data_location = TensorProto.EXTERNAL
        elif how == "props":
            prop = model.metadata_props[draw(st.integers(0, len(model.metadata_props) - 1))]
            prop.value = draw(
                st.one_of(
                    st.just(json_text(draw(json_values))),
                    proto_strings,
                    st.just(deep(draw(st.sampled_from([65, 100_000])))),
                )
            )
        elif model.graph.node:
            node = model.graph.node[draw(st.integers(0, len(model.graph.node) - 1))]
            node.op_type = draw(st.sampled_from(["Identity", "Loop", "Custom", node.op_type]))
    return draw(damaged(model.SerializeToString()))


# ---- study runs and metrics ---------------------------------------------------------------------

EPOCH = {
    "epoch": 1,
    "perplexity": 12.5,
    "tokens_per_sec": 1000.0,
    "seconds": 0.5,
    "val_perplexity": 13.0,
    "grad_norm": 0.7,
    "clipped_fraction": 0.0,
}
LM_RESULT = {
    "history": [EPOCH],
    "vocab_size": 28,
    "stopped": None,
    "diverged": None,
    "train_tokens": 1000,
    "unigram_perplexity": 18.0,
    "tokens_per_sec": 1000.0,
    "wall_seconds": 2.0,
}
RESULTS = {
    "overfit": LM_RESULT,
    "depth": LM_RESULT,
    "scratch": {
        "history": [{k: v for k, v in EPOCH.items() if k not in ("seconds", "val_perplexity")}],
        "vocab_size": 28,
        "diverged": None,
        "perplexity": 12.5,
        "tokens_per_sec": 10.0,
    },
    "autoregressive": {
        "train_loss": [0.1],
        "final_train_mse": 0.1,
        "onestep_test_mse": 0.1,
        "multistep_mse": 0.9,
        "onestep": [0.1, -0.2],
        "multistep": [0.3],
        "noise_variance": 0.04,
        "kstep": {"1": {"mse": 0.1, "test_mse": 0.2, "pred": [0.5]}},
    },
    "compress": {
        "sizes": [
            {
                "chars": 10,
                "bytes": 10,
                "rnnlm": 8,
                "rnnlm_ideal_bits": 60.5,
                "rnnlm_seconds": 0.1,
                "bzip2": 40,
                "bzip2_seconds": 0.01,
                "xz": 60,
                "xz_seconds": 0.01,
            }
        ],
        "model_weights_bytes": 100,
        "model_xz_bytes": 90,
        "checkpoint_bytes": 120,
        "train_seconds": 1.0,
        "val_perplexity": None,
        "perplexity": 9.0,
    },
}
STUDY_CONFIG = {"backend": "torch", "seed": 0}


@st.composite
def study_run(draw):
    """(study name, bytes of a stored run): a valid one edited, or text from the wild."""
    name = draw(st.sampled_from(sorted(RESULTS)))
    doc = {"config": STUDY_CONFIG, "result": RESULTS[name]}
    return name, draw(json_file(doc))


METRICS = {
    "backend": "torch",
    "model": "rnn",
    "num_hiddens": 8,
    "lr": 1.0,
    "epochs": 2,
    "corpus": None,
    "history": [
        {"epoch": 1, "perplexity": 20.0, "val_perplexity": None},
        {"epoch": 2, "perplexity": 15.0, "val_perplexity": 16.0},
    ],
}


@st.composite
def metrics_file(draw):
    return draw(json_file(METRICS))
