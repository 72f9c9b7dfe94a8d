"""PyTorch: the models of `rnnlm study` that the language model itself is not.

- `ScratchLM`: the book's RNN from scratch (d2l "RNN from scratch"), written as the book
  writes it: parameters W_xh, W_hh, b_h, W_hq, b_q, one-hot input, a Python loop over time
  steps, clipping by hand (`if norm > theta`), SGD by hand.
- `Regressor`: a model of real numbers for the autoregressive study: the book's MLP
  (a window of tau values -> 10 ReLU units -> 1) or an RNN reading the window one value a
  step (scratch layout, 1 input) with a linear head on its last state; MSE, Adam by hand.

Weights come in as NumPy (rnnlm.study.weights) and leave as NumPy; every mxnet_study_models
name is here with the same meaning, so the same weights give the same numbers.
"""

import numpy as np
import torch
from torch.nn import functional as F

NAME = "torch"
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def set_num_threads(n):
    torch.set_num_threads(n)


def to_float(x):
    return float(x)


def _params(weights, dtype, names):
    return [torch.tensor(np.asarray(weights[n]), dtype=_DTYPES[dtype], requires_grad=True) for n in names]


def _numpy(model):
    return {n: p.detach().numpy().copy() for n, p in zip(model.names, model.params)}


# ---- the from-scratch language model ------------------------------------------------------


class ScratchLM:
    names = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

    def __init__(self, weights, activation="tanh", dtype="float32"):
        self.params = _params(weights, dtype, self.names)
        self.act = torch.tanh if activation == "tanh" else torch.relu
        self.dtype = _DTYPES[dtype]
        self.vocab_size, self.num_hiddens = self.params[0].shape

    def __call__(self, X, state):
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        inputs = F.one_hot(torch.as_tensor(X).T, self.vocab_size).to(self.dtype)
        H, outputs = state, []
        for x in inputs:  # one time step at a time, as the book
            H = self.act(torch.mm(x, W_xh) + torch.mm(H, W_hh) + b_h)
            outputs.append(torch.mm(H, W_hq) + b_q)
        return torch.cat(outputs, dim=0), H


def scratch_begin_state(model, batch_size):
    return torch.zeros((batch_size, model.num_hiddens), dtype=model.dtype)


def scratch_detach(state):
    return state.detach()


def scratch_train_step(model, state, X, Y, lr, clip):
    """The book's minibatch: mean cross-entropy, backward, clip by hand (clip=None: not at
    all), SGD. Returns (state, summed loss on the device, the norm before clipping as float)."""
    y_hat, state = model(X, state)
    y = torch.as_tensor(np.ascontiguousarray(Y.T)).reshape(-1)
    loss = F.cross_entropy(y_hat, y)
    for p in model.params:
        p.grad = None
    loss.backward()
    norm = float(torch.sqrt(torch.stack([torch.sum(p.grad**2) for p in model.params]).sum()))
    with torch.no_grad():
        if clip is not None and norm > clip:
            for p in model.params:
                p.grad[:] *= clip / norm
        for p in model.params:
            p -= lr * p.grad
    return state, loss.detach() * Y.size, norm


def scratch_get_weights(model):
    return _numpy(model)


# ---- the real-valued sequence model -------------------------------------------------------


class Regressor:
    def __init__(self, weights, kind, dtype="float32"):
        self.kind, self.dtype = kind, _DTYPES[dtype]
        self.names = ScratchLM.names if kind == "rnn" else ("W1", "b1", "W2", "b2")
        self.params = _params(weights, dtype, self.names)

    def __call__(self, X):
        """X: (batch, tau) -> (batch,) predictions of the next value."""
        X = torch.as_tensor(np.asarray(X), dtype=self.dtype)
        if self.kind == "mlp":
            W1, b1, W2, b2 = self.params
            return (torch.relu(X @ W1 + b1) @ W2 + b2)[:, 0]
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        H = torch.zeros((X.shape[0], W_hh.shape[0]), dtype=self.dtype)
        for t in range(X.shape[1]):  # the window's values in time order, one a step
            H = torch.tanh(X[:, t : t + 1] @ W_xh + H @ W_hh + b_h)
        return (H @ W_hq + b_q)[:, 0]


def regressor_predict(model, X):
    with torch.no_grad():
        return model(X).numpy()


def make_adam(model):
    return {"t": 0, "m": [torch.zeros_like(p) for p in model.params], "v": [torch.zeros_like(p) for p in model.params]}


def regressor_train_step(model, adam, X, y, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mean squared error, backward, one Adam step (written out, so every framework takes
    exactly the same one). Returns the loss as float."""
    loss = torch.mean((model(X) - torch.as_tensor(np.asarray(y), dtype=model.dtype)) ** 2)
    for p in model.params:
        p.grad = None
    loss.backward()
    adam["t"] += 1
    t = adam["t"]
    with torch.no_grad():
        for p, m, v in zip(model.params, adam["m"], adam["v"]):
            m.mul_(beta1).add_((1 - beta1) * p.grad)
            v.mul_(beta2).add_((1 - beta2) * p.grad**2)
            m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
            p -= lr * m_hat / (torch.sqrt(v_hat) + eps)
    return float(loss.detach())


def regressor_get_weights(model):
    return _numpy(model)
