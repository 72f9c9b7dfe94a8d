"""MXNet: the models of `rnnlm study` that the language model itself is not, name for name
as backends/torch_study_models.py (see there): the book's RNN from scratch, and the
real-valued sequence regressor (the book's MLP, or an RNN reading the window)."""

import numpy as np

from . import mxnet_runtime

mx = mxnet_runtime.load()  # np.bool for MXNet 1.9.1, and its thread count, before mxnet loads
from mxnet import autograd  # noqa: E402

NAME = "mxnet"


def set_num_threads(n):
    """MXNet fixes its operators' threads when it loads (OMP_NUM_THREADS); nothing to do."""


def to_float(x):
    return float(x.asscalar()) if hasattr(x, "asscalar") else float(x)


def _params(weights, dtype, names):
    params = [mx.nd.array(np.asarray(weights[n]), dtype=dtype) for n in names]
    for p in params:
        p.attach_grad()
    return params


def _numpy(model):
    return {n: p.asnumpy().copy() for n, p in zip(model.names, model.params)}


# ---- the from-scratch language model ------------------------------------------------------


class ScratchLM:
    names = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

    def __init__(self, weights, activation="tanh", dtype="float32"):
        self.params = _params(weights, dtype, self.names)
        self.act = mx.nd.tanh if activation == "tanh" else mx.nd.relu
        self.dtype = dtype
        self.vocab_size, self.num_hiddens = self.params[0].shape

    def __call__(self, X, state):
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        inputs = mx.nd.one_hot(
            mx.nd.array(np.ascontiguousarray(X.T), dtype=self.dtype), self.vocab_size, dtype=self.dtype
        )
        H, outputs = state, []
        for x in inputs:  # one time step at a time, as the book
            H = self.act(mx.nd.dot(x, W_xh) + mx.nd.dot(H, W_hh) + b_h)
            outputs.append(mx.nd.dot(H, W_hq) + b_q)
        return mx.nd.concat(*outputs, dim=0), H


def scratch_begin_state(model, batch_size):
    return mx.nd.zeros((batch_size, model.num_hiddens), dtype=model.dtype)


def scratch_detach(state):
    return state.detach()


def _cross_entropy(y_hat, y):
    return -mx.nd.pick(mx.nd.log_softmax(y_hat), y)


def scratch_train_step(model, state, X, Y, lr, clip):
    """The book's minibatch: mean cross-entropy, backward, clip by hand (clip=None: not at
    all), SGD. Returns (state, summed loss on the device, the norm before clipping as float)."""
    y = mx.nd.array(np.ascontiguousarray(Y.T).reshape(-1), dtype=model.dtype)
    with autograd.record():
        y_hat, state = model(X, state)
        loss = _cross_entropy(y_hat, y).mean()
    loss.backward()
    norm = float(mx.nd.sqrt(mx.nd.add_n(*[mx.nd.sum(p.grad**2) for p in model.params])).asscalar())
    if clip is not None and norm > clip:
        for p in model.params:
            p.grad[:] *= clip / norm
    for p in model.params:
        p[:] = p - lr * p.grad
    return state, loss * Y.size, norm


def scratch_get_weights(model):
    return _numpy(model)


# ---- the real-valued sequence model -------------------------------------------------------


class Regressor:
    def __init__(self, weights, kind, dtype="float32"):
        self.kind, self.dtype = kind, dtype
        self.names = ScratchLM.names if kind == "rnn" else ("W1", "b1", "W2", "b2")
        self.params = _params(weights, dtype, self.names)

    def __call__(self, X):
        """X: (batch, tau) -> (batch,) predictions of the next value."""
        X = mx.nd.array(np.asarray(X), dtype=self.dtype)
        if self.kind == "mlp":
            W1, b1, W2, b2 = self.params
            return (mx.nd.dot(mx.nd.relu(mx.nd.dot(X, W1) + b1), W2) + b2)[:, 0]
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        H = mx.nd.zeros((X.shape[0], W_hh.shape[0]), dtype=self.dtype)
        for t in range(X.shape[1]):  # the window's values in time order, one a step
            H = mx.nd.tanh(mx.nd.dot(X[:, t : t + 1], W_xh) + mx.nd.dot(H, W_hh) + b_h)
        return (mx.nd.dot(H, W_hq) + b_q)[:, 0]


def regressor_predict(model, X):
    return model(X).asnumpy()


def make_adam(model):
    return {"t": 0, "m": [mx.nd.zeros_like(p) for p in model.params], "v": [mx.nd.zeros_like(p) for p in model.params]}


def regressor_train_step(model, adam, X, y, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mean squared error, backward, one Adam step (written out, so every framework takes
    exactly the same one). Returns the loss as float."""
    target = mx.nd.array(np.asarray(y), dtype=model.dtype)
    with autograd.record():
        loss = mx.nd.mean((model(X) - target) ** 2)
    loss.backward()
    adam["t"] += 1
    t = adam["t"]
    for p, m, v in zip(model.params, adam["m"], adam["v"]):
        m[:] = beta1 * m + (1 - beta1) * p.grad
        v[:] = beta2 * v + (1 - beta2) * p.grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p[:] = p - lr * m_hat / (mx.nd.sqrt(v_hat) + eps)
    return float(loss.asscalar())


def regressor_get_weights(model):
    return _numpy(model)
