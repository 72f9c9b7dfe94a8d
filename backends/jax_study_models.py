"""JAX: the models of `rnnlm study` that the language model itself is not.

- `ScratchLM`: the book's RNN from scratch, as the book writes it: parameters W_xh, W_hh,
  b_h, W_hq, b_q, one-hot input, a Python loop over time steps, clipping by hand
  (`if norm > theta`), SGD by hand. JAX differentiates the loss as a function of the
  parameters (`jax.value_and_grad`) where the other frameworks call backward.
- `Regressor`: a model of real numbers for the autoregressive study: the book's MLP
  (a window of tau values -> 10 ReLU units -> 1) or an RNN reading the window one value a
  step (scratch layout, 1 input) with a linear head on its last state; MSE, Adam by hand.

Weights come in as NumPy (rnnlm.study.weights) and leave as NumPy; every name of
torch_study_models is here with the same meaning, so the same weights give the same numbers.
Nothing is jitted: these are the book's eager, step-by-step models.
"""

import jax
import jax.numpy as jnp
import numpy as np

from .jax_runtime import dtype as _dtype  # float64 turns on JAX's x64 switch (see jax_runtime)

NAME = "jax"


def set_num_threads(n):
    """XLA sizes its CPU thread pool once, when it starts (see jax_impl)."""
    del n


def to_float(x):
    return float(x)


def _params(weights, dtype, names):
    return [jnp.asarray(np.asarray(weights[n]), dtype=_dtype(dtype)) for n in names]


def _numpy(model):
    return {n: np.array(p) for n, p in zip(model.names, model.params)}


# ---- the from-scratch language model ------------------------------------------------------


def _scratch_forward(params, X, state, act):
    W_xh, W_hh, b_h, W_hq, b_q = params
    inputs = jax.nn.one_hot(jnp.asarray(X).T, W_xh.shape[0], dtype=W_xh.dtype)
    H, outputs = state, []
    for x in inputs:  # one time step at a time, as the book
        H = act(x @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return jnp.concatenate(outputs, axis=0), H


class ScratchLM:
    names = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

    def __init__(self, weights, activation="tanh", dtype="float32"):
        self.params = _params(weights, dtype, self.names)
        self.act = jnp.tanh if activation == "tanh" else jax.nn.relu
        self.dtype = _dtype(dtype)
        self.vocab_size, self.num_hiddens = self.params[0].shape

    def __call__(self, X, state):
        return _scratch_forward(self.params, X, state, self.act)


def scratch_begin_state(model, batch_size):
    return jnp.zeros((batch_size, model.num_hiddens), dtype=model.dtype)


def scratch_detach(state):
    return jax.lax.stop_gradient(state)


def _mean_cross_entropy(logits, y):
    log_p = jax.nn.log_softmax(logits, axis=1)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))


def scratch_train_step(model, state, X, Y, lr, clip):
    """The book's minibatch: mean cross-entropy, gradient, clip by hand (clip=None: not at
    all), SGD. Returns (state, summed loss on the device, the norm before clipping as float)."""
    y = jnp.asarray(np.ascontiguousarray(Y.T).reshape(-1))

    def loss_of(params):
        logits, new_state = _scratch_forward(params, X, state, model.act)
        return _mean_cross_entropy(logits, y), new_state

    (loss, state), grads = jax.value_and_grad(loss_of, has_aux=True)(model.params)
    norm = float(jnp.sqrt(jnp.stack([jnp.sum(g**2) for g in grads]).sum()))
    if clip is not None and norm > clip:
        grads = [g * (clip / norm) for g in grads]
    model.params = [p - lr * g for p, g in zip(model.params, grads)]
    return state, loss * Y.size, norm


def scratch_get_weights(model):
    return _numpy(model)


# ---- the real-valued sequence model -------------------------------------------------------


def _regress(params, kind, X):
    """X: (batch, tau) -> (batch,) predictions of the next value."""
    if kind == "mlp":
        W1, b1, W2, b2 = params
        return (jax.nn.relu(X @ W1 + b1) @ W2 + b2)[:, 0]
    W_xh, W_hh, b_h, W_hq, b_q = params
    H = jnp.zeros((X.shape[0], W_hh.shape[0]), dtype=X.dtype)
    for t in range(X.shape[1]):  # the window's values in time order, one a step
        H = jnp.tanh(X[:, t : t + 1] @ W_xh + H @ W_hh + b_h)
    return (H @ W_hq + b_q)[:, 0]


class Regressor:
    def __init__(self, weights, kind, dtype="float32"):
        self.kind, self.dtype = kind, _dtype(dtype)
        self.names = ScratchLM.names if kind == "rnn" else ("W1", "b1", "W2", "b2")
        self.params = _params(weights, dtype, self.names)

    def __call__(self, X):
        return _regress(self.params, self.kind, jnp.asarray(np.asarray(X), dtype=self.dtype))


def regressor_predict(model, X):
    return np.array(model(X))


def make_adam(model):
    return {"t": 0, "m": [jnp.zeros_like(p) for p in model.params], "v": [jnp.zeros_like(p) for p in model.params]}


def regressor_train_step(model, adam, X, y, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mean squared error, its gradient, one Adam step (written out, so every framework takes
    exactly the same one). Returns the loss as float."""
    X = jnp.asarray(np.asarray(X), dtype=model.dtype)
    target = jnp.asarray(np.asarray(y), dtype=model.dtype)
    loss, grads = jax.value_and_grad(lambda params: jnp.mean((_regress(params, model.kind, X) - target) ** 2))(
        model.params
    )
    adam["t"] += 1
    t = adam["t"]
    adam["m"] = [beta1 * m + (1 - beta1) * g for m, g in zip(adam["m"], grads)]
    adam["v"] = [beta2 * v + (1 - beta2) * g**2 for v, g in zip(adam["v"], grads)]
    model.params = [
        p - lr * (m / (1 - beta1**t)) / (jnp.sqrt(v / (1 - beta2**t)) + eps)
        for p, m, v in zip(model.params, adam["m"], adam["v"])
    ]
    return float(loss)


def regressor_get_weights(model):
    return _numpy(model)
