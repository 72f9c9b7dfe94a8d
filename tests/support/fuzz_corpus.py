"""The regression corpus of the grammar fuzz suite: every file that once made a reader fail
(issue 28's findings, and what the suite found since), as small generators. Each runs before
the Hypothesis cases (tests/support/grammar_fuzz.py) and must be accepted or refused in one line.

`cases(reader, workdir)` yields (name, bytes); `workdir` holds the worker's base files
(base.npz, base.onnx, run.npz), written before the corpus runs.
"""

import io
import json
import os
import zipfile

import numpy as np

from tests.support import grammars


def _read(workdir, name):
    with open(os.path.join(workdir, name), "rb") as f:
        return f.read()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _zip(members, method=zipfile.ZIP_STORED, flag=0):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    data = bytearray(buffer.getvalue())
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + at] |= flag
            i = data.find(sig, i + 4)
    return bytes(data)


def npz_cases(workdir):
    base = _members(_read(workdir, "base.npz"))
    yield "encrypted-flag", _zip(base, flag=0x1)
    yield "lzma-method-14", _zip(base, zipfile.ZIP_LZMA)
    yield "bzip2-method", _zip(base, zipfile.ZIP_BZIP2)
    deflated = bytearray(_zip(base, zipfile.ZIP_DEFLATED))
    for i in range(200, len(deflated) - 200, 97):
        deflated[i] ^= 0x55
    yield "corrupt-deflate", bytes(deflated)
    for name, header in (
        ("shape-true-256", ("<f4", False, (True, 256))),
        ("itemsize-U2000000000", ("<U2000000000", False, (3,))),
        ("40-dims", ("<f4", False, (1,) * 40)),
        # found by the grammar fuzz: NumPy's int64 product of the shape overflowed
        ("shape-2**100-times-0", ("<f4", False, (2**100, 0))),
    ):
        yield name, _zip({**base, "rnn.weight_ih_l0.npy": grammars.npy_header(*header) + b"\0" * 64})


def pt_cases(workdir):
    import torch

    def saved(state):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()

    yield "stride0-100000x100000", saved({"rnn.weight_ih_l0": torch.zeros(1).expand(100_000, 100_000)})
    yield "meta-device", saved({"rnn.weight_ih_l0": torch.empty(4, 4, device="meta")})
    yield "9-dims", saved({"rnn.weight_ih_l0": torch.zeros([1] * 9)})
    yield (
        "layer-99999999",
        saved(
            {
                "rnn.weight_ih_l99999999": torch.zeros(2, 2),
                "rnn.weight_hh_l0": torch.zeros(2, 2),
                "linear.weight": torch.zeros(3, 2),
            }
        ),
    )
    data = bytearray(saved({"rnn.weight_hh_l0": torch.ones(8, 8), "linear.weight": torch.ones(3, 8)}))
    at = data.find(b"\x00\x00\x80\x3f" * 8)  # inside the tensor bytes: ones as float32
    data[at + 5] ^= 0x10
    yield "bit-flip-in-tensor-data", bytes(data)


def params_cases(workdir):
    from rnnlm.backends import mxnet_native

    yield (
        "layer-99999999",
        mxnet_native.params_bytes(
            {
                "rnn._unfused.99999999.i2h_weight": np.zeros((2, 2), np.float32),
                "rnn._unfused.0.h2h_weight": np.zeros((2, 2), np.float32),
                "dense.weight": np.zeros((3, 2), np.float32),
            }
        ),
    )


def onnx_cases(workdir):
    from onnx import ModelProto, numpy_helper

    for name in ("duplicate-initializer", "plumbing-changed", "op-type-not-utf8"):
        model = ModelProto()
        model.ParseFromString(_read(workdir, "base.onnx"))
        inits = model.graph.initializer
        if name == "duplicate-initializer":
            bias = next(t for t in inits if t.name == "linear.bias")
            inits.append(numpy_helper.from_array(numpy_helper.to_array(bias) + 1, "linear.bias"))
        elif name == "plumbing-changed":
            perm = next(t for t in inits if t.name == "perm_tn")
            perm.CopyFrom(numpy_helper.from_array(np.array([0, 1], np.int64), "perm_tn"))
        else:  # found by the grammar fuzz: protobuf hands back a damaged op_type as bytes
            model.graph.node[0].op_type = "Transpos\u00e9"
            data = model.SerializeToString()
            at = data.find("Transpos\u00e9".encode())
            yield name, data[: at + 8] + b"\xff\xfe" + data[at + 10 :]
            continue
        yield name, model.SerializeToString()


def resume_cases(workdir):
    arrays = dict(np.load(io.BytesIO(_read(workdir, "run.npz")), allow_pickle=False))
    meta = json.loads(str(arrays.pop("__meta__")))

    def with_meta(edit):
        doc = json.loads(json.dumps(meta))
        edit(doc)
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.array(json.dumps(doc)), **arrays)
        return buffer.getvalue()

    yield "lr-1e308", with_meta(lambda m: m["train"].update(lr=1e308))
    yield "rng-uinteger-2**100", with_meta(lambda m: m["rng_state"].update(uinteger=2**100))
    yield "rng-has_uint32-2**100", with_meta(lambda m: m["rng_state"].update(has_uint32=2**100))
    yield "nan-in-history", with_meta(lambda m: m["history"][0].update(perplexity=float("nan")))


def metrics_cases(workdir):
    history = '[{"epoch": 1, "perplexity": 20.0}, {"epoch": 2, "perplexity": 15.0}]'
    yield "1e400", b'{"history": [{"epoch": 1, "perplexity": 1e400}]}'
    yield "epoch-1e400", b'{"history": [{"epoch": 1e400, "perplexity": 3}]}'
    yield "mathtext-label", ('{"history": %s, "model": "$\\\\foo{$"}' % history).encode()
    yield "lone-surrogate", ('{"history": %s, "model": "\\ud800"}' % history).encode()
    yield "5MB-label", ('{"history": %s, "model": "%s"}' % (history, "x" * 5_000_000)).encode()
    yield "deep-100000", ('{"history": ' + grammars.deep(100_000) + "}").encode()
    yield "not-utf8", b'{"history": "\xff"}'


def study_cases(workdir):
    result = grammars.RESULTS["overfit"]
    history = result["history"][0]

    def run(doc):
        return "overfit", json.dumps({"config": grammars.STUDY_CONFIG, "result": doc}, allow_nan=True).encode()

    yield "missing-key", run({k: v for k, v in result.items() if k != "history"})
    yield "retyped", run({**result, "vocab_size": "28"})
    for name, value in (("nan", float("nan")), ("negative", -1.0), ("string", "low"), ("one", 1.0)):
        yield f"perplexity-{name}", run({**result, "history": [{**history, "perplexity": value}]})
    yield "deep-100000", ("overfit", ('{"config": {}, "result": ' + grammars.deep(100_000) + "}").encode())


def cases(reader, workdir):
    return globals()[f"{reader}_cases"](workdir)
