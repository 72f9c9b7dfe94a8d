"""Every backend returns what its interface says, in the same shapes (the interface itself
is checked by tests/test_architecture.py on every registered backend)."""

import numpy as np
import pytest

from rnnlm.config import ModelConfig
from rnnlm.model.weights import canonical_shapes, init_weights


def test_backend_returns_what_the_protocol_says_on_a_tiny_model(backend):
    cfg = ModelConfig(vocab_size=5, num_hiddens=4, cell="lstm")
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float64")
    backend.set_weights(model, init_weights(cfg, 0, "float64"))
    assert (model.cfg, model.dtype_name, model.group) == (cfg, "float64", None)
    assert backend.device_name(model.device) == backend.device_name(backend.resolve_device("cpu"))
    X = np.array([[1, 2, 3], [4, 0, 1]])
    state = backend.begin_state(model, 2)
    logits, state = backend.forward(model, X, state)
    assert isinstance(logits, np.ndarray) and logits.shape == (6, 5) and logits.dtype == np.float64
    assert all(isinstance(s, np.ndarray) for s in backend.state_to_numpy(backend.detach_state(state)))
    state, loss_sum = backend.eval_step(model, state, X, X)
    assert isinstance(backend.to_float(loss_sum), float)
    ids, state = backend.greedy_continue(model, backend.begin_state(model, 1), 2, 4)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.shape == (4,)
    loss, grads = backend.loss_and_grads(model, backend.begin_state(model, 2), X, X)
    assert isinstance(loss, float) and set(grads) == set(canonical_shapes(cfg))
    opt = backend.make_optimizer(model, 0.5)
    state, loss_sum, _ = backend.train_step(model, opt, backend.begin_state(model, 2), X, X, 1.0)
    assert isinstance(backend.to_float(loss_sum), float)
    weights = backend.get_weights(model)
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float64 for w in weights.values())
    assert backend.all_reduce_sum(model, [1.5, 2]) == [1.5, 2.0]
    assert backend.group_requested({}) is False


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_shapes(backend, cell, layers, bidirectional):
    cfg = ModelConfig(vocab_size=11, num_hiddens=8, num_layers=layers, cell=cell, bidirectional=bidirectional)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float32")
    backend.set_weights(model, init_weights(cfg, 0))
    state = backend.begin_state(model, 3)
    logits, state = backend.forward(model, np.zeros((3, 5), dtype=np.int64), state)
    assert logits.shape == (5 * 3, 11)
    parts = backend.state_to_numpy(state)
    assert len(parts) == (2 if cell == "lstm" else 1)
    assert all(p.shape == (layers * cfg.num_directions, 3, 8) for p in parts)
    weights = backend.get_weights(model)
    assert {k: v.shape for k, v in weights.items()} == dict(canonical_shapes(cfg))


def _to_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_hot(backend, dtype):
    out = _to_numpy(backend.one_hot(np.array([2, 0, 3]), 4, dtype))
    assert out.dtype == np.dtype(dtype)
    assert (out == np.eye(4)[[2, 0, 3]]).all()


def test_device_handling(backend):
    cpu = backend.resolve_device("cpu")
    assert backend.device_name(cpu) in ("cpu", "cpu(0)")
    assert backend.device_name(backend.resolve_device("auto")) == backend.device_name(backend.try_gpu())
    devices = [backend.device_name(d) for d in backend.try_all_gpus()]
    if backend.device_name(backend.try_gpu()) == backend.device_name(cpu):  # no GPU: the CPU alone, as d2l's
        assert devices == [backend.device_name(cpu)]
        from rnnlm.errors import UsageError

        with pytest.raises(UsageError, match="--device gpu"):
            backend.resolve_device("gpu")


@pytest.mark.parametrize("scale", [0.5, 2.0])
@pytest.mark.parametrize("dtype, rel, step_rel", [("float64", 1e-12, 1e-9), ("float32", 1e-5, 1e-4)])
def test_grad_clipping_returns_the_norm_before_and_clips_to_theta(backend, scale, dtype, rel, step_rel):
    cfg = ModelConfig(vocab_size=7, num_hiddens=6)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), dtype)
    backend.set_weights(model, init_weights(cfg, 1, dtype))
    X = np.random.default_rng(0).integers(0, 7, (2, 4))
    Y = (X + 1) % 7
    _, grads = backend.loss_and_grads(model, backend.begin_state(model, 2), X, Y)
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads.values()))
    assert backend.to_float(backend.grad_clipping(model, 1e9)) == pytest.approx(norm, rel=rel)

    before = backend.get_weights(model)
    opt = backend.make_optimizer(model, 1.0)
    _, _, returned = backend.train_step(model, opt, backend.begin_state(model, 2), X, Y, norm * scale)
    assert backend.to_float(returned) == pytest.approx(norm, rel=rel)  # the norm before clipping
    after = backend.get_weights(model)
    step = np.sqrt(sum(((before[k].astype(np.float64) - after[k]) ** 2).sum() for k in before))
    # lr 1: the step is the gradient, scaled down to theta only when its norm exceeds theta
    assert step == pytest.approx(norm * min(scale, 1.0), rel=step_rel)  # float32 weights lose digits to the step


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_optimizers_step_as_torch_optim_does(kind, dtype):
    """The PyTorch backend steps SGD and Adam itself (torch.optim's first optimizer imports
    torch._dynamo: seconds of start-up), with the same bits as torch.optim's CPU steps."""
    from tests.support.backends import load_or_skip

    b = load_or_skip("torch")
    import torch

    cfg = ModelConfig(vocab_size=30, num_hiddens=16, cell="gru")
    models = [b.RNNModel(cfg, b.resolve_device("cpu"), dtype) for _ in range(2)]
    for m in models:
        b.set_weights(m, init_weights(cfg, 0, dtype))
    theirs = (torch.optim.Adam if kind == "adam" else torch.optim.SGD)(models[1].parameters(), lr=0.01)
    optimizers = (b.make_optimizer(models[0], 0.01, kind), theirs)
    rng = np.random.default_rng(0)
    for _ in range(12):
        X, Y = rng.integers(0, 30, (4, 8)), rng.integers(0, 30, (4, 8))
        for m, opt in zip(models, optimizers):
            b.train_step(m, opt, b.begin_state(m, 4), X, Y, 1.0)
    ours, reference = (b.get_weights(m) for m in models)
    assert ours.keys() == reference.keys()
    assert all(np.array_equal(ours[k], reference[k]) for k in ours)
    assert not all(np.array_equal(ours[k], init_weights(cfg, 0, dtype)[k]) for k in ours)  # it learned


def test_mxnet_inputs_are_copies_the_engine_reads_without_waiting():
    """The MXNet backend lends MXNet a fresh host copy of each batch (mx.nd.array would wait
    for every queued operation): the caller may reuse its array at once."""
    from tests.support.backends import load_or_skip

    M = load_or_skip("mxnet")
    model = M.RNNModel(ModelConfig(vocab_size=7, num_hiddens=4), M.resolve_device("cpu"), "float32")
    source = np.array([[1, 2, 3], [4, 5, 6]])
    lent = M._array(model, source)
    source[:] = 0
    assert lent.dtype == np.float32 and lent.asnumpy().tolist() == [[1, 2, 3], [4, 5, 6]]
