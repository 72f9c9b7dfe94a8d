"""PyTorch and MXNet on identical weights and data compute the same thing.

Each test loads the same NumPy weights into both backends and feeds both the same
batches; tolerances are those promised in the README's Parity section.
"""

import math

import numpy as np
import pytest

from rnnlm.backend import build_model
from rnnlm.config import ModelConfig, TrainConfig
from rnnlm.data.corpus import load_corpus
from rnnlm.training.loop import train, train_epoch
from rnnlm.data.batches import make_batches
from rnnlm.model.weights import init_weights

ARCHS = [(cell, layers, bi) for cell in ("rnn", "gru", "lstm") for layers in (1, 2) for bi in (False, True)]
ARCH_IDS = [f"{c}-{n}layer{'-bi' if b else ''}" for c, n, b in ARCHS]


def pair(backend_pair, cfg, dtype, seed=0):
    weights = init_weights(cfg, seed, dtype)
    return [build_model(b, cfg, b.resolve_device("cpu"), dtype, weights) for b in backend_pair]


def data(vocab_size, batch=4, steps=9, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab_size, (batch, steps)), rng.integers(0, vocab_size, (batch, steps))


@pytest.mark.parametrize("cell, layers, bidirectional", ARCHS, ids=ARCH_IDS)
def test_weights_round_trip(backend, cell, layers, bidirectional):
    cfg = ModelConfig(13, 6, layers, cell, bidirectional)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float64")
    weights = init_weights(cfg, 5, "float64")
    backend.set_weights(model, weights)
    back = backend.get_weights(model)
    assert set(back) == set(weights)
    for name in weights:
        assert back[name].dtype == np.float64
        assert (back[name] == weights[name]).all(), name


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("cell, layers, bidirectional", ARCHS, ids=ARCH_IDS)
def test_forward_logits_and_state(backend_pair, cell, layers, bidirectional, dtype, tol):
    cfg = ModelConfig(28, 32, layers, cell, bidirectional)
    X, _ = data(28)
    outs = []
    for backend, model in zip(backend_pair, pair(backend_pair, cfg, dtype)):
        state = backend.begin_state(model, X.shape[0])
        _, state = backend.forward(model, X, state)  # carry a state into a second call
        logits, state = backend.forward(model, X[:, ::-1], state)
        outs.append((logits, backend.state_to_numpy(state)))
    (lt, st), (lm, sm) = outs
    assert np.abs(lt - lm).max() <= tol
    assert all(np.abs(a - b).max() <= tol for a, b in zip(st, sm))


@pytest.mark.parametrize("cell, layers, bidirectional", ARCHS, ids=ARCH_IDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients(backend_pair, cell, layers, bidirectional, dtype):
    cfg = ModelConfig(28, 32, layers, cell, bidirectional)
    X, Y = data(28, seed=1)
    results = [
        backend.loss_and_grads(model, backend.begin_state(model, X.shape[0]), X, Y)
        for backend, model in zip(backend_pair, pair(backend_pair, cfg, dtype))
    ]
    (loss_t, grads_t), (loss_m, grads_m) = results
    assert loss_t == pytest.approx(loss_m, rel=1e-6 if dtype == "float32" else 1e-13)
    rel = 1e-5 if dtype == "float32" else 1e-12
    for name in grads_t:
        scale = np.abs(grads_t[name]).max()
        assert np.abs(grads_t[name] - grads_m[name]).max() <= rel * max(scale, 1e-30), name


@pytest.mark.parametrize("cell, layers, bidirectional", [("rnn", 1, False), ("gru", 2, False), ("lstm", 1, True)])
def test_one_epoch_minibatch_losses_float32(backend_pair, cell, layers, bidirectional):
    corpus, vocab = load_corpus(max_tokens=3000)
    cfg = ModelConfig(len(vocab), 64, layers, cell, bidirectional)
    losses = []
    for backend, model in zip(backend_pair, pair(backend_pair, cfg, "float32")):
        optimizer = backend.make_optimizer(model, 1.0)
        per_batch, state = [], None
        for X, Y in make_batches(corpus, 8, 20, "sequential", np.random.default_rng(3)):
            state = backend.begin_state(model, 8) if state is None else backend.detach_state(state)
            state, loss_sum, _ = backend.train_step(model, optimizer, state, X, Y, 1.0)
            per_batch.append(backend.to_float(loss_sum) / Y.size)
        losses.append(np.array(per_batch))
    assert len(losses[0]) > 10
    assert np.abs(losses[0] - losses[1]).max() / np.abs(losses[1]).min() <= 1e-4


def test_train_epoch_reports_exp_of_mean_loss(backend):
    corpus, vocab = load_corpus(max_tokens=2000)
    cfg = ModelConfig(len(vocab), 16)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float64")
    backend.set_weights(model, init_weights(cfg, 0, "float64"))
    batches = list(make_batches(corpus, 4, 10, "sequential", np.random.default_rng(0)))
    ppl, speed, seconds, norm, clipped = train_epoch(
        backend, model, backend.make_optimizer(model, 0.0), batches, 1.0, False
    )
    assert speed > 0 and seconds > 0 and norm > 0 and 0.0 <= clipped <= 1.0
    # with lr 0 nothing changes, so the epoch's perplexity is the exp of the mean eval loss
    state, total = backend.begin_state(model, 4), 0.0
    for X, Y in batches:
        state, loss_sum = backend.eval_step(model, state, X, Y)
        total += backend.to_float(loss_sum)
    assert ppl == pytest.approx(math.exp(total / sum(Y.size for _, Y in batches)), rel=1e-12)


@pytest.mark.slow
def test_float64_training_default_config_40_epochs(backend_pair):
    corpus, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab))
    tcfg = TrainConfig(epochs=40, dtype="float64")
    curves = []
    for backend, model in zip(backend_pair, pair(backend_pair, cfg, "float64")):
        curves.append(np.array([h.perplexity for h in train(backend, model, corpus, tcfg)]))
    rel = np.abs(curves[0] - curves[1]) / curves[1]
    assert len(rel) == 40 and curves[0][-1] < curves[0][0]
    assert rel.max() <= 1e-9, f"first epochs above 1e-9: {np.nonzero(rel > 1e-9)[0][:5] + 1}"


@pytest.mark.parametrize(
    "cell, layers, bidirectional, activation",
    [
        ("rnn", 1, False, "tanh"),
        ("rnn", 2, False, "relu"),
        ("gru", 2, False, "tanh"),
        ("lstm", 2, False, "tanh"),
        ("lstm", 1, True, "tanh"),
    ],
)
def test_greedy_continue_equals_the_per_character_loop(backend, cell, layers, bidirectional, activation):
    cfg = ModelConfig(28, 32, layers, cell, bidirectional, activation)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float32")
    backend.set_weights(model, init_weights(cfg, 2))
    warm = np.array([[3, 1, 4, 1, 5]])
    _, start = backend.forward(model, warm, backend.begin_state(model, 1))
    fast, fast_state = backend.greedy_continue(model, start, 5, 40)
    _, state = backend.forward(model, warm, backend.begin_state(model, 1))
    last, slow = 5, []
    for _ in range(40):  # the book's predict_ch8: one call and one host read per character
        logits, state = backend.forward(model, np.array([[last]]), state)
        last = int(np.argmax(logits[-1]))
        slow.append(last)
    assert fast.tolist() == slow
    for a, b in zip(backend.state_to_numpy(fast_state), backend.state_to_numpy(state)):
        assert np.abs(a - b).max() <= 1e-5


@pytest.mark.parametrize(
    "layers, bidirectional, activation",
    [(1, False, "tanh"), (1, False, "relu"), (2, True, "tanh"), (2, False, "relu")],
)
def test_torch_fused_rnn_equals_nn_rnn(layers, bidirectional, activation):
    """The fast path (gather input + fused recurrence; for one layer and one direction, the
    step written out without autograd) against nn.RNN on one-hot input."""
    from tests.support.backends import load_or_skip

    T = load_or_skip("torch")
    import torch

    from rnnlm.backends.torch_kernel import runs_without_autograd

    cfg = ModelConfig(28, 16, layers, "rnn", bidirectional, activation)
    weights = init_weights(cfg, 0, "float64")
    fast, plain = (T.RNNModel(cfg, None, "float64", fused=f) for f in (True, False))
    assert fast.fused and not plain.fused
    assert runs_without_autograd(fast) == (layers == 1) and not runs_without_autograd(plain)
    for model in (fast, plain):
        T.set_weights(model, weights)
    X, Y = data(28, seed=4)
    h0 = torch.randn(layers * cfg.num_directions, X.shape[0], 16, dtype=torch.float64)
    (lf, gf), (lp, gp) = (T.loss_and_grads(m, h0.clone(), X, Y) for m in (fast, plain))
    assert lf == pytest.approx(lp, rel=1e-14)
    for name in gf:
        assert np.abs(gf[name] - gp[name]).max() <= 1e-13, name
    (of, sf), (op, sp) = (T.forward(m, X, h0.clone()) for m in (fast, plain))
    assert np.abs(of - op).max() <= 1e-13 and (sf - sp).abs().max().item() <= 1e-13
    # and a few training steps stay together
    for model in (fast, plain):
        opt, state = T.make_optimizer(model, 1.0), T.begin_state(model, X.shape[0])
        for _ in range(3):
            state, _, _ = T.train_step(model, opt, T.detach_state(state), X, Y, 1.0)
    wf, wp = T.get_weights(fast), T.get_weights(plain)
    assert max(np.abs(wf[k] - wp[k]).max() for k in wf) <= 1e-12


@pytest.mark.parametrize(
    "layers, bidirectional, activation", [(1, False, "tanh"), (2, True, "tanh"), (2, False, "relu")]
)
def test_torch_fused_rnn_in_float32_takes_onednn_and_equals_nn_rnn(layers, bidirectional, activation):
    """float32 on the CPU: the fused kernels' products are oneDNN's (torch.mm's MKL path is
    slow on AMD), and the NumPy tanh; nn.RNN runs MKL and torch's tanh. Equal to float32's
    precision, on the book's sizes."""
    from tests.support.backends import load_or_skip

    T = load_or_skip("torch")
    import torch

    from rnnlm.backends import torch_kernel

    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch is built without oneDNN")
    assert torch_kernel.products_for(torch.zeros(1)) is torch_kernel.OneDNNProducts
    assert torch_kernel.products_for(torch.zeros(1, dtype=torch.float64)) is torch_kernel.TorchProducts
    cfg = ModelConfig(28, 256, layers, "rnn", bidirectional, activation)
    weights = init_weights(cfg, 0, "float32")
    fast, plain = (T.RNNModel(cfg, None, "float32", fused=f) for f in (True, False))
    for model in (fast, plain):
        T.set_weights(model, weights)
    X, Y = data(28, batch=32, steps=35, seed=4)
    h0 = torch.randn(layers * cfg.num_directions, 32, 256) * 0.5
    (lf, gf), (lp, gp) = (T.loss_and_grads(m, h0.clone(), X, Y) for m in (fast, plain))
    assert lf == pytest.approx(lp, rel=1e-5)
    for name in gf:
        scale = max(np.abs(gp[name]).max(), 1e-3)
        assert np.abs(gf[name] - gp[name]).max() <= 1e-4 * scale, name
    (of, sf), (op, sp) = (T.forward(m, X, h0.clone()) for m in (fast, plain))
    assert np.abs(of - op).max() <= 1e-4 and (sf - sp).abs().max().item() <= 1e-5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_recurrence_in_torch_ops_equals_the_cpu_numpy_loops(dtype):
    """The recurrence as it runs on a GPU (`_forward_steps`/`_backward_steps`, torch's own
    elementwise operations) against the CPU's NumPy loops, run here on the CPU."""
    from tests.support.backends import load_or_skip

    load_or_skip("torch")
    import torch

    from rnnlm.backends import torch_kernel as K

    g = torch.Generator().manual_seed(3)
    steps, batch, hidden = 7, 5, 16
    dt = getattr(torch, dtype)
    xw, h0 = (torch.randn(s, generator=g, dtype=dt) for s in ((steps, batch, hidden), (batch, hidden)))
    w_hh = torch.randn(hidden, hidden, generator=g, dtype=dt) * 0.3
    d_ys, d_last = torch.randn(steps, batch, hidden, generator=g, dtype=dt), torch.randn(batch, hidden, dtype=dt)
    mm = K.products_for(xw)
    results = []
    for fwd, bwd in ((K._forward_steps, K._backward_steps), (K._forward_steps_cpu, K._backward_steps_cpu)):
        hs = torch.empty(steps + 1, batch, hidden, dtype=dt)
        hs[0] = h0
        fwd(mm, mm.pack(w_hh, batch), xw, hs, False)
        d_pre = torch.empty_like(d_ys)
        dh = bwd(mm, mm.pack(w_hh.t(), batch), d_ys, d_ys[-1] + d_last, hs[1:], d_pre, False)
        results.append((hs, d_pre, dh))
    tol = 1e-5 if dtype == "float32" else 1e-13
    for a, b in zip(*results):
        assert (a - b).abs().max().item() <= tol
    # and both are the recurrence: h_t = tanh(xw_t + h_{t-1} W_hh^T)
    hs = results[0][0]
    assert (hs[1:] - torch.tanh(xw + hs[:-1] @ w_hh.t())).abs().max().item() <= tol


@pytest.mark.parametrize(
    "cell, activation, bidirectional",
    [("rnn", "relu", False), ("rnn", "tanh", True), ("gru", "tanh", False), ("lstm", "tanh", True)],
)
def test_mxnet_layer_on_one_flat_parameter_equals_gluon_rnn(cell, activation, bidirectional):
    """The MXNet backend's layer (`_RNNLayer`: the RNN operator on one flat parameter)
    against Gluon's own `rnn.RNN`/`GRU`/`LSTM` with the same weights: the same outputs, states
    and gradients, bit for bit (the same operator on the same vector)."""
    from tests.support.backends import load_or_skip

    M = load_or_skip("mxnet")
    mx = M.mx
    from mxnet import autograd
    from mxnet.gluon import rnn

    cfg = ModelConfig(11, 8, 1, cell, bidirectional, activation)
    weights = init_weights(cfg, 2, "float32")
    ours = M.RNNModel(cfg, mx.cpu(), "float32")
    M.set_weights(ours, weights)
    extra = {"activation": activation} if cell == "rnn" else {}
    theirs = {"rnn": rnn.RNN, "gru": rnn.GRU, "lstm": rnn.LSTM}[cell](
        8, 1, bidirectional=bidirectional, input_size=11, **extra
    )
    theirs.initialize()
    gluon_names = {"weight_ih": "i2h_weight", "weight_hh": "h2h_weight", "bias_ih": "i2h_bias", "bias_hh": "h2h_bias"}

    def gluon_param(name):  # rnn.weight_ih_l0[_reverse] -> Gluon's l0_i2h_weight / r0_i2h_weight
        kind, reverse = name[len("rnn.") :].split("_l0")
        return getattr(theirs, ("r0_" if reverse else "l0_") + gluon_names[kind])

    rnn_names = [n for n in weights if n.startswith("rnn.")]
    for name in rnn_names:
        gluon_param(name).set_data(mx.nd.array(weights[name]))
    rng = np.random.default_rng(1)
    x = mx.nd.array(rng.standard_normal((6, 3, 11)))
    states = [mx.nd.array(rng.standard_normal((cfg.num_directions, 3, 8))) for _ in range(2 if cell == "lstm" else 1)]

    def run(call):
        with autograd.record():
            y, new = call()
            loss = (y * y).sum() + sum((s * s).sum() for s in new)
        loss.backward()
        return [y.asnumpy()] + [s.asnumpy() for s in new]

    got = run(lambda: (lambda out: (out[0], out[1:]))(ours.layers[0](x, *states)))
    want = run(lambda: theirs(x, states))
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    grads = M._canonical_numpy(ours, lambda p: p.grad())
    for name in rnn_names:
        assert np.array_equal(grads[name], gluon_param(name).grad().asnumpy()), name
