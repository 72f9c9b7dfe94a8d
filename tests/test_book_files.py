"""The book's real files: models trained by the book's own package (d2l 0.17.6: its `RNNModel`,
`load_data_time_machine`, `train_ch8`, `predict_ch8`), saved as the book saves them, imported
by rnnlm and run on every backend; and rnnlm's exports loaded back into the book's class,
under `npx.set_np()` (as the book's MXNet code runs) and without it.

d2l reads the corpus through its own download cache (`../data/timemachine.txt`, checked by
SHA-1), which these tests fill with the embedded copy, so nothing is downloaded."""

import os
import random
import shutil
import sys

import numpy as np
import pytest

from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.data.corpus import EMBEDDED_NAME
from tests.support import book_models as book
from tests.support.backends import load_or_skip
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

HIDDEN, EPOCHS = 16, 3
TOKENS, BATCH, STEPS = BOOK_TOKENS, BOOK_BATCH, BOOK_STEPS
RUN_BACKENDS = ["torch", "mxnet", "onnxruntime"]
SAME, ACROSS = 1e-6, 1e-5  # relative, on perplexity: the training framework, the others


def d2l_for(framework):
    """The book's package for `framework`, or a skip naming why it cannot run."""
    pytest.importorskip("d2l", reason="the book's package: pip install --no-deps d2l==0.17.6")
    load_or_skip(framework)
    os.environ.setdefault("MPLBACKEND", "Agg")
    if framework == "mxnet":
        from rnnlm.backends import mxnet_runtime

        mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    else:
        _stand_in_for_torchvision()
    try:
        module = __import__(f"d2l.{framework}", fromlist=["d2l"])
    except ImportError as exc:  # matplotlib, pandas, IPython or requests missing
        pytest.skip(f"d2l.{framework} does not import: {exc}")
    module.requests.get = _no_network
    return module


def _stand_in_for_torchvision():
    """d2l.torch imports torchvision at the top for its image chapters, which these tests do
    not touch; without it installed, an empty module stands in (nothing of it is called)."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        import types

        stand_in = types.ModuleType("torchvision")
        stand_in.transforms = types.ModuleType("torchvision.transforms")
        sys.modules.setdefault("torchvision", stand_in)
        sys.modules.setdefault("torchvision.transforms", stand_in.transforms)


def _no_network(*args, **kwargs):
    raise AssertionError("d2l tried to download; its cache should hold the corpus")


@pytest.fixture(scope="module")
def book_cwd(tmp_path_factory):
    """A working folder whose ../data holds the corpus as d2l's cache expects it."""
    root = tmp_path_factory.mktemp("d2l")
    (root / "data").mkdir()
    shutil.copy(
        os.path.join(os.path.dirname(sys.modules["rnnlm"].__file__), "data", EMBEDDED_NAME),
        root / "data" / "timemachine.txt",
    )
    (root / "work").mkdir()
    return root / "work"


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
        yield


# ---- the book's code trains and saves, once per framework -----------------------------------

_BOOK = {}


def torch_book(folder, cwd):
    """{'files': {kind: path}, 'ppl', 'text', 'vocab'}: the book's PyTorch RNN, by the book."""
    if "torch" not in _BOOK:
        d2l = d2l_for("torch")
        import torch
        from torch import nn

        os.chdir(cwd)
        random.seed(0)
        torch.manual_seed(0)
        train_iter, vocab = d2l.load_data_time_machine(BATCH, STEPS, max_tokens=TOKENS)
        net = d2l.RNNModel(nn.RNN(len(vocab), HIDDEN), vocab_size=len(vocab))
        d2l.train_ch8(net, train_iter, vocab, 1, EPOCHS, d2l.try_gpu())
        files = {
            "state_dict": os.path.join(folder, "book.pt"),
            "legacy": os.path.join(folder, "book-legacy.pt"),
            "whole": os.path.join(folder, "book-whole.pt"),
        }
        torch.save(net.state_dict(), files["state_dict"])
        torch.save(net.state_dict(), files["legacy"], _use_new_zipfile_serialization=False)
        torch.save(net, files["whole"])  # needs weights_only=False: arbitrary objects
        corpus = d2l.load_corpus_time_machine(TOKENS)[0]
        _BOOK["torch"] = {
            "files": files,
            "vocab": vocab.idx_to_token,
            "net": net,
            "ppl": book.torch_perplexity(net, corpus, BATCH, STEPS),
            "text": d2l.predict_ch8(PREFIX, NUM_CHARS, net, vocab, d2l.try_gpu()),
        }
    return _BOOK["torch"]


@pytest.fixture
def np_semantics():
    """npx.set_np() as the book's MXNet code runs, reset afterwards: it is process-wide."""
    d2l_for("mxnet")
    from mxnet import npx

    npx.set_np()
    try:
        yield
    finally:
        npx.reset_np()


def mxnet_perplexity(net, corpus):
    """The book's Gluon model over sequential batches (offset 0), state carried along."""
    import mxnet as mx

    loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    state, total, n = None, 0.0, 0
    for X, Y in book.sequential_batches(corpus, BATCH, STEPS):
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], ctx=mx.cpu())
        y_hat, state = net(mx.np.array(X), state)
        total += float(loss(y_hat, mx.np.array(Y.T.reshape(-1))).sum())
        n += Y.size
    return float(np.exp(total / n))


def mxnet_book(folder, cwd):
    """The book's Gluon RNN trained by d2l under npx.set_np(), saved with save_parameters
    (NumPy-shape arrays) and, for comparison, as legacy arrays."""
    if "mxnet" not in _BOOK:
        d2l = d2l_for("mxnet")
        import mxnet as mx
        from mxnet import npx
        from mxnet.gluon import rnn

        npx.set_np()
        try:
            os.chdir(cwd)
            random.seed(0)
            mx.random.seed(0)
            train_iter, vocab = d2l.load_data_time_machine(BATCH, STEPS, max_tokens=TOKENS)
            net = d2l.RNNModel(rnn.RNN(HIDDEN), len(vocab))
            d2l.train_ch8(net, train_iter, vocab, 1, EPOCHS, d2l.try_gpu())
            files = {
                "set_np": os.path.join(folder, "book.params"),
                "legacy": os.path.join(folder, "book-legacy.params"),
            }
            net.save_parameters(files["set_np"])
            arrays = {name: p.data().as_nd_ndarray() for name, p in net._collect_params_with_prefix().items()}
            corpus = d2l.load_corpus_time_machine(TOKENS)[0]
            _BOOK["mxnet"] = {
                "files": files,
                "vocab": vocab.idx_to_token,
                "ppl": mxnet_perplexity(net, corpus),
                "text": d2l.predict_ch8(PREFIX, NUM_CHARS, net, vocab, d2l.try_gpu()),
            }
        finally:
            npx.reset_np()
        mx.nd.save(files["legacy"], arrays)  # what save_parameters writes without set_np
    return _BOOK["mxnet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("book-files"))


@pytest.fixture(autouse=True)
def keep_cwd():
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


def check_import(capsys, tmp_path, path, trained, source, run_backend):
    ck = tmp_path / "ck.npz"
    code, out, err = cli(capsys, "import", path, "--out", ck)
    assert code == 0, err
    cfg, vocab, _, meta = load_checkpoint(ck)
    assert vocab.idx_to_token == trained["vocab"]  # the book's own Vocab, token for token
    assert meta["imported"]["format"] == source and cfg.num_hiddens == HIDDEN
    load_or_skip(run_backend)
    ppl = rnnlm_eval(capsys, tmp_path, ck, run_backend)
    tolerance = SAME if run_backend == source else ACROSS
    assert abs(ppl - trained["ppl"]) / trained["ppl"] <= tolerance, (ppl, trained["ppl"])
    assert rnnlm_predict(capsys, ck, run_backend) == trained["text"]


@pytest.mark.parametrize("run_backend", RUN_BACKENDS)
@pytest.mark.parametrize("kind", ["state_dict", "legacy"])
def test_the_books_pytorch_files_import_and_run_as_the_book_does(kind, run_backend, folder, book_cwd, tmp_path, capsys):
    trained = torch_book(folder, book_cwd)
    check_import(capsys, tmp_path, trained["files"][kind], trained, "torch", run_backend)


def test_a_whole_pickled_model_is_refused_in_one_line(folder, book_cwd, tmp_path, capsys):
    trained = torch_book(folder, book_cwd)
    code, _, err = cli(capsys, "import", trained["files"]["whole"], "--out", tmp_path / "ck.npz")
    assert code == 2 and err.count("\n") == 1 and "arbitrary Python objects" in err
    assert not (tmp_path / "ck.npz").exists()


@pytest.mark.parametrize("run_backend", RUN_BACKENDS)
@pytest.mark.parametrize("kind", ["set_np", "legacy"])
def test_the_books_mxnet_files_import_and_run_as_the_book_does(kind, run_backend, folder, book_cwd, tmp_path, capsys):
    trained = mxnet_book(folder, book_cwd)
    with open(trained["files"][kind], "rb") as f:  # the two semantics really differ on disk
        assert f.read(28)[24:28] == (b"\xca\xfa\x93\xf9" if kind == "set_np" else b"\xc9\xfa\x93\xf9")
    check_import(capsys, tmp_path, trained["files"][kind], trained, "mxnet", run_backend)


# ---- rnnlm's exports in the book's classes ------------------------------------------------------


def imported(capsys, tmp_path, path):
    ck = tmp_path / "ck.npz"
    code, _, err = cli(capsys, "import", path, "--out", ck)
    assert code == 0, err
    return ck


def test_an_mxnet_export_loads_into_the_books_class_under_set_np(folder, book_cwd, tmp_path, capsys, np_semantics):
    trained = torch_book(folder, book_cwd)  # a torch-trained model, so nothing is MXNet's own
    ck = imported(capsys, tmp_path, trained["files"]["state_dict"])
    code, _, err = cli(capsys, "export", ck, "--format", "mxnet", "--out", tmp_path / "m.params")
    assert code == 0, err
    d2l = d2l_for("mxnet")
    from mxnet.gluon import rnn

    net = d2l.RNNModel(rnn.RNN(HIDDEN, activation="tanh"), len(trained["vocab"]))
    net.load_parameters(str(tmp_path / "m.params"))
    os.chdir(book_cwd)
    vocab = d2l.load_corpus_time_machine(TOKENS)[1]
    assert d2l.predict_ch8(PREFIX, NUM_CHARS, net, vocab, d2l.try_gpu()) == trained["text"]
    corpus = d2l.load_corpus_time_machine(TOKENS)[0]
    assert abs(mxnet_perplexity(net, corpus) - trained["ppl"]) / trained["ppl"] <= ACROSS


def test_an_mxnet_export_loads_into_the_books_class_without_set_np(folder, book_cwd, tmp_path, capsys):
    trained = torch_book(folder, book_cwd)
    ck = imported(capsys, tmp_path, trained["files"]["state_dict"])
    code, _, err = cli(capsys, "export", ck, "--format", "mxnet", "--out", tmp_path / "m.params")
    assert code == 0, err
    d2l_for("mxnet")
    # d2l's class calls npx.one_hot, which needs set_np: the re-creation is its legacy twin
    net = book.mxnet_model("rnn", len(trained["vocab"]), HIDDEN, activation="tanh")
    net.load_parameters(str(tmp_path / "m.params"))
    from rnnlm.data.corpus import load_corpus

    corpus, _ = load_corpus(None, TOKENS)
    ppl = book.mxnet_perplexity(net, corpus, BATCH, STEPS)
    assert abs(ppl - trained["ppl"]) / trained["ppl"] <= ACROSS


def test_a_torch_export_loads_strictly_into_the_books_class(folder, book_cwd, tmp_path, capsys):
    trained = mxnet_book(folder, book_cwd)
    ck = imported(capsys, tmp_path, trained["files"]["set_np"])
    code, _, err = cli(capsys, "export", ck, "--format", "torch", "--out", tmp_path / "m.pt")
    assert code == 0, err
    d2l = d2l_for("torch")
    import torch
    from torch import nn

    net = d2l.RNNModel(nn.RNN(len(trained["vocab"]), HIDDEN, nonlinearity="relu"), len(trained["vocab"]))
    net.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True), strict=True)
    os.chdir(book_cwd)
    vocab = d2l.load_corpus_time_machine(TOKENS)[1]
    assert d2l.predict_ch8(PREFIX, NUM_CHARS, net, vocab, d2l.try_gpu()) == trained["text"]
