"""Both backend modules expose the same interface and the same shapes."""

import inspect

import numpy as np
import pytest

from rnnlm.backend import Backend
from rnnlm.config import ModelConfig
from rnnlm.weights import canonical_shapes, init_weights

PROTOCOL_MEMBERS = sorted(n for n in vars(Backend) if not n.startswith("_"))


def test_backend_has_every_protocol_member_with_its_parameters(backend):
    for name in PROTOCOL_MEMBERS:
        assert hasattr(backend, name), name
        declared = vars(Backend)[name]
        if inspect.isfunction(declared):
            want = [p for p in inspect.signature(declared).parameters if p != "self"]
            assert list(inspect.signature(getattr(backend, name)).parameters) == want, name


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


def test_backends_mirror_each_other_name_for_name(both_backends):
    torch_impl, mxnet_impl = both_backends
    public = lambda m: {n for n, v in vars(m).items()  # noqa: E731
                        if not n.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v))
                        and getattr(v, "__module__", None) == m.__name__}
    assert public(torch_impl) == public(mxnet_impl)
    for name in public(torch_impl):
        a, b = getattr(torch_impl, name), getattr(mxnet_impl, name)
        if inspect.isfunction(a):
            assert list(inspect.signature(a).parameters) == list(inspect.signature(b).parameters), name


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


def test_one_hot(backend):
    import importlib
    framework = importlib.import_module(backend.NAME)
    idx = framework.tensor([2, 0]) if backend.NAME == "torch" else framework.nd.array([2, 0])
    out = backend.one_hot(idx, 4)
    arr = out.numpy() if backend.NAME == "torch" else out.asnumpy()
    assert (arr == np.eye(4, dtype=np.float32)[[2, 0]]).all()


def test_device_handling(backend):
    cpu = backend.resolve_device("cpu")
    assert backend.device_name(cpu) in ("cpu", "cpu(0)")
    assert backend.device_name(backend.resolve_device("auto")) == backend.device_name(backend.try_gpu())
    assert len(backend.try_all_gpus()) >= 1
    if backend.device_name(backend.try_gpu()) == backend.device_name(cpu):
        from rnnlm.errors import UsageError
        with pytest.raises(UsageError, match="--device gpu"):
            backend.resolve_device("gpu")


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_grad_clipping_returns_the_norm_before_and_clips_to_theta(backend, scale):
    cfg = ModelConfig(vocab_size=7, num_hiddens=6)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float64")
    backend.set_weights(model, init_weights(cfg, 1, "float64"))
    X = np.random.default_rng(0).integers(0, 7, (2, 4))
    Y = (X + 1) % 7
    _, grads = backend.loss_and_grads(model, backend.begin_state(model, 2), X, Y)
    norm = np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    assert backend.to_float(backend.grad_clipping(model, 1e9)) == pytest.approx(norm, rel=1e-12)

    before = backend.get_weights(model)
    opt = backend.make_optimizer(model, 1.0)
    _, _, returned = backend.train_step(model, opt, backend.begin_state(model, 2), X, Y, norm * scale)
    assert backend.to_float(returned) == pytest.approx(norm, rel=1e-12)  # the norm before clipping
    after = backend.get_weights(model)
    step = np.sqrt(sum(((before[k] - after[k]) ** 2).sum() for k in before))
    # lr 1: the step is the gradient, scaled down to theta only when its norm exceeds theta
    assert step == pytest.approx(norm * min(scale, 1.0), rel=1e-9)
