"""Bring your own model: the book's native checkpoints in (`rnnlm import`), out (`rnnlm export`),
and ONNX Runtime as an inference backend. The book's models are re-created in book_models.py,
trained for a few steps with the book's loop, saved natively and compared with rnnlm."""

import json
import os
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

from rnnlm.backend import IMPORT_FORMATS
from rnnlm.interop.convert import format_titles

from rnnlm.checkpoints.file import load_checkpoint, save_checkpoint
from rnnlm.config import ModelConfig
from rnnlm.data.corpus import load_corpus, load_lines, tokenize
from rnnlm.data.vocab import Vocab
from rnnlm.model.weights import init_weights
from tests.support import book_models as book
from tests.support.backends import load_or_skip
from tests.support.commands import assert_one_line_error, run_cli

from tests.support.commands import (
    BOOK_BATCH,
    BOOK_STEPS,
    BOOK_TOKENS,
    NUM_CHARS,
    PREFIX,
    cli,
    rnnlm_eval,
    rnnlm_predict,
)

NOT_A_BOOK_FILE = f"not a {format_titles(IMPORT_FORMATS)} file"  # every format `rnnlm import` reads
CELLS = ["rnn", "gru", "lstm"]
LAYOUTS = [(1, False), (2, True)]  # (layers, bidirectional)
HIDDEN = 16
TOKENS, BATCH, STEPS = BOOK_TOKENS, BOOK_BATCH, BOOK_STEPS
RUN_BACKENDS = ["torch", "mxnet", "onnxruntime"]
# relative, on perplexity: the framework that trained the model, against its own book code,
# 1e-6; another framework's float32 kernels (and ONNX Runtime), 1e-5 as across backends
SAME_FRAMEWORK, ACROSS = 1e-6, 1e-5


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one thread each. (Once MXNet has run, its OpenMP threads spin and a
    2-thread torch step on 2 cores takes seconds instead of milliseconds.)"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")  # the torch backend sizes its pool from it
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
        yield


@pytest.fixture(scope="module")
def corpus_and_vocab():
    return load_corpus(None, TOKENS)


def framework(name):
    """The framework module itself, or a skip naming why it is missing."""
    backend = load_or_skip(name)
    return __import__(backend.NAME)


def onnx_or_skip():
    return load_or_skip("onnxruntime")


# ---- models trained and saved by the book's code, once per config ----------------------------

_TRAINED = {}


def book_checkpoint(source, cell, layers, bidirectional, folder, corpus, vocab):
    """(native file, the book's own perplexity, the book's own greedy text), cached."""
    key = (source, cell, layers, bidirectional)
    if key not in _TRAINED:
        framework(source)
        path = os.path.join(
            folder, f"{source}-{cell}-{layers}-{bidirectional}." + ("pt" if source == "torch" else "params")
        )
        if source == "torch":
            import torch

            net = book.torch_model(cell, len(vocab), HIDDEN, layers, bidirectional)
            book.torch_train(net, corpus)
            torch.save(net.state_dict(), path)
            ppl = book.torch_perplexity(net, corpus, BATCH, STEPS)
            text = book.torch_predict(PREFIX, NUM_CHARS, net, vocab)
        else:
            net = book.mxnet_model(cell, len(vocab), HIDDEN, layers, bidirectional)
            book.mxnet_train(net, corpus)
            net.save_parameters(path)
            ppl = book.mxnet_perplexity(net, corpus, BATCH, STEPS)
            text = book.mxnet_predict(PREFIX, NUM_CHARS, net, vocab)
        _TRAINED[key] = (path, ppl, text)
    return _TRAINED[key]


@pytest.fixture(scope="module")
def book_folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("book"))


@pytest.mark.parametrize("run_backend", RUN_BACKENDS)
@pytest.mark.parametrize("layers, bidirectional", LAYOUTS)
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("source", ["torch", "mxnet"])
def test_imported_book_model_gives_the_books_perplexity_and_text(
    source, cell, layers, bidirectional, run_backend, book_folder, corpus_and_vocab, tmp_path, capsys
):
    corpus, vocab = corpus_and_vocab
    native, book_ppl, book_text = book_checkpoint(source, cell, layers, bidirectional, book_folder, corpus, vocab)
    load_or_skip(run_backend)
    ck = tmp_path / "ck.npz"
    code, out, err = cli(capsys, "import", native, "--out", ck)
    assert code == 0, err
    cfg, _, _, meta = load_checkpoint(ck)
    assert (cfg.cell, cfg.num_layers, cfg.bidirectional, cfg.num_hiddens, cfg.vocab_size) == (
        cell,
        layers,
        bidirectional,
        HIDDEN,
        len(vocab),
    )
    if cell == "rnn":  # the activation the source framework's book code uses by default
        assert cfg.activation == {"torch": "tanh", "mxnet": "relu"}[source]
    assert meta["imported"]["format"] == source
    ppl = rnnlm_eval(capsys, tmp_path, ck, run_backend)
    tolerance = SAME_FRAMEWORK if run_backend == source else ACROSS
    assert abs(ppl - book_ppl) / book_ppl <= tolerance, (ppl, book_ppl)
    assert rnnlm_predict(capsys, ck, run_backend) == book_text


# ---- export: the book's classes load what rnnlm writes ----------------------------------------


def rnnlm_checkpoint(tmp_path, cell, layers, bidirectional, activation="tanh", seed=3):
    _, vocab = load_corpus(None, TOKENS)
    cfg = ModelConfig(
        vocab_size=len(vocab),
        num_hiddens=HIDDEN,
        num_layers=layers,
        cell=cell,
        bidirectional=bidirectional,
        activation=activation if cell == "rnn" else "tanh",
    )
    ck = tmp_path / "rnnlm.npz"
    save_checkpoint(ck, cfg, vocab, init_weights(cfg, seed), "float32")
    return ck, cfg, vocab


def rnnlm_logits(cfg, weights, X):
    torch_impl = load_or_skip("torch")
    model = torch_impl.RNNModel(cfg, torch_impl.resolve_device("cpu"), "float32")
    torch_impl.set_weights(model, weights)
    logits, state = torch_impl.forward(model, X, torch_impl.begin_state(model, X.shape[0]))
    return logits, torch_impl.state_to_numpy(state)


X_SAMPLE = np.random.default_rng(0).integers(0, 28, (3, 7))


@pytest.mark.parametrize("layers, bidirectional", LAYOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_export_torch_loads_strictly_into_the_books_class(cell, layers, bidirectional, tmp_path, capsys):
    torch = framework("torch")
    ck, cfg, vocab = rnnlm_checkpoint(tmp_path, cell, layers, bidirectional, activation="relu")
    code, out, err = cli(capsys, "export", ck, "--format", "torch", "--out", tmp_path / "m.pt")
    assert code == 0, err
    assert "load_state_dict" in out and ("nonlinearity='relu'" in out) == (cell == "rnn")
    net = book.torch_model(cell, len(vocab), HIDDEN, layers, bidirectional, nonlinearity="relu")
    net.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True), strict=True)
    with torch.no_grad():
        y, state = net(torch.tensor(X_SAMPLE), net.begin_state("cpu", X_SAMPLE.shape[0]))
    _, _, weights, _ = load_checkpoint(ck)
    logits, _ = rnnlm_logits(cfg, weights, X_SAMPLE)
    np.testing.assert_allclose(y.numpy(), logits, atol=1e-5)
    assert book.torch_predict(PREFIX, NUM_CHARS, net, vocab) == rnnlm_predict(capsys, ck, "torch")


@pytest.mark.parametrize("layers, bidirectional", LAYOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_export_mxnet_loads_into_the_books_class(cell, layers, bidirectional, tmp_path, capsys):
    mx = framework("mxnet")
    ck, cfg, vocab = rnnlm_checkpoint(tmp_path, cell, layers, bidirectional)
    code, out, err = cli(capsys, "export", ck, "--format", "mxnet", "--out", tmp_path / "m.params")
    assert code == 0, err
    assert "load_parameters" in out and ("activation='tanh'" in out) == (cell == "rnn")
    net = book.mxnet_model(cell, len(vocab), HIDDEN, layers, bidirectional, activation="tanh")
    net.load_parameters(str(tmp_path / "m.params"))  # as printed: no initialize() needed
    y, _ = net(mx.nd.array(X_SAMPLE), net.begin_state(batch_size=X_SAMPLE.shape[0]))
    assert net.dense.weight.shape == (len(vocab), HIDDEN * cfg.num_directions)
    _, _, weights, _ = load_checkpoint(ck)
    logits, _ = rnnlm_logits(cfg, weights, X_SAMPLE)
    np.testing.assert_allclose(y.asnumpy(), logits, atol=1e-5)
    assert book.mxnet_predict(PREFIX, NUM_CHARS, net, vocab) == rnnlm_predict(capsys, ck, "mxnet")


@pytest.mark.parametrize("layers, bidirectional", LAYOUTS)
@pytest.mark.parametrize("cell", CELLS)
def test_export_onnx_is_checked_and_steps_one_character_at_a_time(cell, layers, bidirectional, tmp_path, capsys):
    onnx_or_skip()
    import onnx
    import onnxruntime as ort

    ck, cfg, vocab = rnnlm_checkpoint(tmp_path, cell, layers, bidirectional)
    out_path = tmp_path / "m.onnx"
    code, _, err = cli(capsys, "export", ck, "--format", "onnx", "--out", out_path)
    assert code == 0, err
    model = onnx.load(str(out_path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 21
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["rnnlm.vocab"]) == vocab.idx_to_token
    assert ModelConfig.from_dict(json.loads(props["rnnlm.model"])) == cfg
    session = ort.InferenceSession(str(out_path), providers=["CPUExecutionProvider"])
    states = ["h0", "c0"] if cell == "lstm" else ["h0"]
    assert [i.name for i in session.get_inputs()] == ["tokens"] + states
    assert [o.name for o in session.get_outputs()] == ["logits"] + [s.replace("0", "n") for s in states]
    _, _, weights, _ = load_checkpoint(ck)
    logits, final = rnnlm_logits(cfg, weights, X_SAMPLE)
    zeros = np.zeros((layers * cfg.num_directions, X_SAMPLE.shape[0], HIDDEN), np.float32)
    whole = session.run(None, {"tokens": X_SAMPLE, **{s: zeros for s in states}})
    np.testing.assert_allclose(whole[0], logits, atol=1e-5)
    for got, want in zip(whole[1:], final):
        np.testing.assert_allclose(got, want, atol=1e-5)
    if not bidirectional:  # the reverse direction sees the whole sequence, so only forward steps
        feeds, rows = {s: zeros for s in states}, []
        for t in range(X_SAMPLE.shape[1]):
            step_logits, *next_state = session.run(None, {"tokens": X_SAMPLE[:, t : t + 1], **feeds})
            feeds = dict(zip(states, next_state))
            rows.append(step_logits)
        np.testing.assert_allclose(np.concatenate(rows), logits, atol=1e-5)


def test_torch_to_mxnet_and_back_is_bitwise(tmp_path, capsys, corpus_and_vocab, book_folder):
    torch = framework("torch")
    framework("mxnet")
    corpus, vocab = corpus_and_vocab
    native, _, _ = book_checkpoint("torch", "lstm", 2, True, book_folder, corpus, vocab)
    steps = [
        ("import", native, tmp_path / "a.npz"),
        ("export", tmp_path / "a.npz", tmp_path / "a.params"),
        ("import", tmp_path / "a.params", tmp_path / "b.npz"),
        ("export", tmp_path / "b.npz", tmp_path / "b.pt"),
    ]
    for command, src, dst in steps:
        extra = ["--format", "mxnet" if dst.suffix == ".params" else "torch"] if command == "export" else []
        code, _, err = cli(capsys, command, src, "--out", dst, *extra)
        assert code == 0, err
    a, b = load_checkpoint(tmp_path / "a.npz")[2], load_checkpoint(tmp_path / "b.npz")[2]
    assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)
    original = torch.load(native, weights_only=True)
    back = torch.load(tmp_path / "b.pt", weights_only=True)
    assert list(original) == list(back)
    assert all(torch.equal(original[k], back[k]) for k in original)


# ---- the names MXNet writes ------------------------------------------------------------------


def test_every_mxnet_naming_scheme_imports_the_same_weights(tmp_path, capsys):
    mx = framework("mxnet")
    _, vocab = load_corpus(None, TOKENS)
    net = book.mxnet_model("gru", len(vocab), HIDDEN, 2, True)
    net.initialize()
    net(mx.nd.zeros((1, 2)), net.begin_state(batch_size=1))
    net.save_parameters(str(tmp_path / "unfused.params"))  # rnn._unfused.0.l_cell.i2h_weight
    net.collect_params().save(str(tmp_path / "prefixed.params"))  # rnnmodel0_gru0_l0_i2h_weight
    structural = {
        re.sub(r"_unfused\.(\d+)\.([lr])_cell\.", r"\2\1_", n): v  # rnn.l0_i2h_weight
        for n, v in mx.nd.load(str(tmp_path / "unfused.params")).items()
    }
    assert "rnn.l1_h2h_bias" in structural and "rnn.r0_i2h_weight" in structural
    mx.nd.save(str(tmp_path / "fused.params"), structural)
    mx.nd.save(
        str(tmp_path / "export.params"),  # arg:gru0_l0_i2h_weight
        {"arg:" + n: v for n, v in mx.nd.load(str(tmp_path / "prefixed.params")).items()},
    )
    results = []
    for scheme in ("unfused", "prefixed", "fused", "export"):
        code, _, err = cli(capsys, "import", tmp_path / f"{scheme}.params", "--out", tmp_path / f"{scheme}.npz")
        assert code == 0, (scheme, err)
        results.append(load_checkpoint(tmp_path / f"{scheme}.npz")[2])
    for other in results[1:]:
        assert all(np.array_equal(results[0][k], other[k]) for k in results[0])


def test_ddp_prefix_and_activation_override(tmp_path, capsys):
    torch = framework("torch")
    _, vocab = load_corpus(None, TOKENS)
    net = book.torch_model("rnn", len(vocab), HIDDEN, nonlinearity="relu")
    torch.save({"module." + k: v for k, v in net.state_dict().items()}, tmp_path / "ddp.pt")
    code, out, err = cli(capsys, "import", tmp_path / "ddp.pt", "--out", tmp_path / "a.npz", "--activation", "relu")
    assert code == 0, err
    cfg = load_checkpoint(tmp_path / "a.npz")[0]
    assert cfg.activation == "relu" and "module." in out
    assert rnnlm_predict(capsys, tmp_path / "a.npz", "torch") == book.torch_predict(PREFIX, NUM_CHARS, net, vocab)


def test_the_books_vocabulary_keeps_ties_in_order_of_appearance():
    assert Vocab.as_book([list("ba"), list("ab"), list("c")]).idx_to_token == ["<unk>", "b", "a", "c"]
    # the Time Machine has no ties, so the book's order is rnnlm's own
    assert Vocab.as_book(tokenize(load_lines(None))).idx_to_token == load_corpus(None, 0)[1].idx_to_token


# ---- onnxruntime as a backend --------------------------------------------------------------


def test_an_exported_onnx_file_is_a_checkpoint(tmp_path, capsys):
    onnx_or_skip()
    load_or_skip("torch")
    ck, _, _ = rnnlm_checkpoint(tmp_path, "lstm", 2, False, seed=5)
    code, _, err = cli(capsys, "export", ck, "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert code == 0, err
    torch_ppl = rnnlm_eval(capsys, tmp_path, ck, "torch")
    for backend in ("onnxruntime", "torch"):
        ppl = rnnlm_eval(capsys, tmp_path, tmp_path / "m.onnx", backend)
        assert abs(ppl - torch_ppl) / torch_ppl <= 1e-5
        assert rnnlm_predict(capsys, tmp_path / "m.onnx", backend) == rnnlm_predict(capsys, ck, "torch")


def test_onnxruntime_runs_with_neither_torch_nor_mxnet(tmp_path, capsys):
    onnx_or_skip()
    load_or_skip("torch")
    ck, _, _ = rnnlm_checkpoint(tmp_path, "rnn", 1, False, seed=7)
    expected = rnnlm_predict(capsys, ck, "torch")
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['mxnet'] = None\n"
        "from rnnlm.cli.main import main\n"
        f"sys.exit(main(['predict', {PREFIX!r}, '--checkpoint', {str(ck)!r}, '--num-chars', '{NUM_CHARS}']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "RNNLM_BACKEND": "onnxruntime"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip("\n") == expected


def test_onnxruntime_does_not_train():
    onnx_or_skip()
    # refused before anything else is looked at (this corpus would be too short, too)
    proc = run_cli("train", "--backend", "onnxruntime", "--max-tokens", "100")
    assert_one_line_error(proc, "onnxruntime runs predict and eval only", "--backend torch or mxnet")
    proc = run_cli("train", "--max-tokens", "100", env={"RNNLM_BACKEND": "onnxruntime"})
    assert_one_line_error(proc, "onnxruntime runs predict and eval only")


# ---- bad input: exit 2, one error line, nothing written ---------------------------------------


def import_fails(tmp_path, capsys, src, *fragments, extra=()):
    out = tmp_path / "out.npz"
    out.write_bytes(b"old")
    code, _, err = cli(capsys, "import", src, "--out", out, *extra)
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    assert out.read_bytes() == b"old"  # untouched
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


class Payload:
    """Unpickling this would create a file: a load that runs it is not weights-only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_refuses_what_is_not_a_book_checkpoint(tmp_path, capsys):
    (tmp_path / "text.pt").write_text("hello world\n")
    import_fails(tmp_path, capsys, tmp_path / "text.pt", NOT_A_BOOK_FILE)
    import_fails(tmp_path, capsys, tmp_path / "missing.pt", "does not exist")
    marker = str(tmp_path / "was-unpickled")
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(Payload(marker)))
    import_fails(tmp_path, capsys, tmp_path / "plain.pkl", "Python pickle", "never unpickles")
    ck, _, _ = rnnlm_checkpoint(tmp_path, "rnn", 1, False)
    import_fails(tmp_path, capsys, ck, "already an rnnlm checkpoint")
    torch = framework("torch")
    torch.save({"rnn.weight_ih_l0": Payload(marker)}, tmp_path / "evil.pt")
    import_fails(tmp_path, capsys, tmp_path / "evil.pt", "arbitrary Python objects")
    import_fails(tmp_path, capsys, tmp_path / "plain.pkl", "arbitrary Python objects", extra=["--format", "torch"])
    assert not os.path.exists(marker)
    (tmp_path / "cut.pt").write_bytes((tmp_path / "evil.pt").read_bytes()[:200])
    import_fails(tmp_path, capsys, tmp_path / "cut.pt")


def book_state(torch, cell="gru", layers=1, bidirectional=False, vocab_size=28):
    net = book.torch_model(cell, vocab_size, HIDDEN, layers, bidirectional)
    return dict(net.state_dict())


@pytest.mark.parametrize(
    "change, fragments",
    [
        (lambda s, t: s.update({"encoder.weight": s["linear.weight"]}), ["unknown tensor name(s) encoder.weight"]),
        (lambda s, t: s.pop("linear.bias"), ["missing tensor(s) linear.bias"]),
        (lambda s, t: s.pop("rnn.weight_hh_l0_reverse"), ["missing tensor(s) rnn.weight_hh_l0_reverse"]),
        (lambda s, t: s.update({"linear.weight": s["linear.weight"][:, :5]}), ["contradict", "linear.weight"]),
        (lambda s, t: s.update({"rnn.weight_ih_l1": s["rnn.weight_ih_l1"][:, :3]}), ["contradict", "rnn.weight_ih_l1"]),
        (lambda s, t: s.update({"rnn.weight_hh_l0": s["rnn.weight_hh_l0"][:, :5]}), ["rnn.weight_hh_l0", "gates"]),
        (lambda s, t: s.update({"linear.bias": s["linear.bias"].long()}), ["linear.bias", "floating point"]),
        (lambda s, t: s["linear.bias"].__setitem__(0, float("nan")), ["linear.bias", "NaN"]),
        (lambda s, t: s.update({"step": 3}), ["non-tensor value under 'step'"]),
    ],
)
def test_refuses_names_and_shapes_that_are_not_the_books_model(change, fragments, tmp_path, capsys):
    torch = framework("torch")
    state = book_state(torch, layers=2, bidirectional=True)
    change(state, torch)
    torch.save(state, tmp_path / "bad.pt")
    import_fails(tmp_path, capsys, tmp_path / "bad.pt", *fragments)


def test_refuses_a_vocabulary_mismatch_naming_both_sizes(tmp_path, capsys):
    torch = framework("torch")
    torch.save(book_state(torch, vocab_size=30), tmp_path / "v30.pt")
    import_fails(tmp_path, capsys, tmp_path / "v30.pt", "30", "28", "--corpus")
    corpus = tmp_path / "abc.txt"
    corpus.write_text("abc abc cab\n")
    torch.save(book_state(torch, vocab_size=5), tmp_path / "v5.pt")
    code, _, err = cli(capsys, "import", tmp_path / "v5.pt", "--out", tmp_path / "v5.npz", "--corpus", corpus)
    assert code == 0, err
    assert load_checkpoint(tmp_path / "v5.npz")[1].idx_to_token == ["<unk>", "a", "b", "c", " "]


def test_refuses_mixed_or_damaged_mxnet_files(tmp_path, capsys):
    mx = framework("mxnet")
    net = book.mxnet_model("rnn", 28, HIDDEN)
    net.initialize()
    net(mx.nd.zeros((1, 2)), net.begin_state(batch_size=1))
    net.save_parameters(str(tmp_path / "ok.params"))
    params = mx.nd.load(str(tmp_path / "ok.params"))
    params["rnn.l0_h2h_bias"] = params.pop("rnn._unfused.0.h2h_bias")
    mx.nd.save(str(tmp_path / "mixed.params"), params)
    import_fails(tmp_path, capsys, tmp_path / "mixed.params", "mixes MXNet naming schemes")
    (tmp_path / "cut.params").write_bytes((tmp_path / "ok.params").read_bytes()[:100])
    import_fails(tmp_path, capsys, tmp_path / "cut.params", "MXNet")
    mx.nd.save(str(tmp_path / "list.params"), [mx.nd.ones(3)])
    import_fails(tmp_path, capsys, tmp_path / "list.params", "unnamed arrays")


def test_export_refuses_a_missing_folder_and_replaces_atomically(tmp_path, capsys):
    framework("torch")
    ck, _, _ = rnnlm_checkpoint(tmp_path, "rnn", 1, False)
    code, _, err = cli(capsys, "export", ck, "--format", "torch", "--out", tmp_path / "nope" / "m.pt")
    assert code == 2 and "does not exist" in err and not (tmp_path / "nope").exists()
    target = tmp_path / "m.pt"
    target.write_bytes(b"old")
    code, _, err = cli(capsys, "export", tmp_path / "missing.npz", "--format", "torch", "--out", target)
    assert code == 2 and target.read_bytes() == b"old"
    code, _, err = cli(capsys, "export", ck, "--format", "torch", "--out", target)
    assert code == 0, err
    assert target.read_bytes()[:2] == b"PK"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_import_errors_as_a_user_sees_them(tmp_path):
    (tmp_path / "x.pt").write_text("not a model")
    assert_one_line_error(
        run_cli("import", str(tmp_path / "x.pt"), "--out", str(tmp_path / "a.npz")),
        NOT_A_BOOK_FILE,
    )
    assert not (tmp_path / "a.npz").exists()
    assert_one_line_error(
        run_cli("import", str(tmp_path / "x.pt"), "--out", str(tmp_path / "no" / "a.npz")), "does not exist"
    )


def test_a_float64_checkpoint_exports_to_mxnet_with_the_cast_it_needs(tmp_path, capsys):
    framework("mxnet")
    _, vocab = load_corpus(None, TOKENS)
    cfg = ModelConfig(vocab_size=len(vocab), num_hiddens=HIDDEN)
    save_checkpoint(tmp_path / "f64.npz", cfg, vocab, init_weights(cfg, 1, "float64"), "float64")
    code, out, err = cli(capsys, "export", tmp_path / "f64.npz", "--format", "mxnet", "--out", tmp_path / "m.params")
    assert code == 0 and "load_parameters(PATH, cast_dtype=True)" in out, err
    net = book.mxnet_model("rnn", len(vocab), HIDDEN, activation="tanh")
    net.load_parameters(str(tmp_path / "m.params"), cast_dtype=True)
    assert net.dense.weight.data().dtype == np.float32


def test_onnx_files_rnnlm_did_not_write_are_refused(tmp_path, capsys):
    onnx_or_skip()
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    (tmp_path / "other.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    code, _, err = cli(capsys, "eval", "--checkpoint", tmp_path / "other.onnx", "--backend", "onnxruntime")
    assert code == 2 and "not one rnnlm exported" in err
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07\xff\xff\xff")
    code, _, err = cli(capsys, "predict", "a", "--checkpoint", tmp_path / "junk.onnx", "--backend", "onnxruntime")
    assert code == 2 and err.startswith("error: ") and "ONNX" in err
