"""The ONNX file rnnlm exports, described without importing onnx: how to tell one, how
onnxruntime loads it; writing and reading back (it is a checkpoint too: its metadata carry
the config and vocabulary) go through `onnxruntime_native`, which imports onnx.
"""

TITLE = "ONNX model"


def sniff(path, head):
    """An ONNX ModelProto starts with field 1, ir_version, a varint: tag byte 0x08."""
    del path
    return head[:1] == b"\x08"


def write(cfg, weights, vocab, dtype):
    from . import onnxruntime_native

    del dtype  # the graph computes in float32, as ONNX Runtime's RNN kernels do
    return onnxruntime_native.model_bytes(cfg, weights, vocab)


def read_checkpoint(path):
    """(ModelConfig, vocabulary list, {canonical name: array}, meta) of an exported file."""
    from . import onnxruntime_native

    return onnxruntime_native.read_checkpoint(path)


def book_constructor(cfg, dtype="float32"):
    del dtype
    state = ", c0" if cfg.cell == "lstm" else ""
    return f"onnxruntime.InferenceSession(PATH); inputs tokens, h0{state}; outputs logits, hn" + (
        ", cn" if cfg.cell == "lstm" else ""
    )
