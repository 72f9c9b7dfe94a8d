"""TensorFlow: the models of `rnnlm study` that the language model itself is not.

- `ScratchLM`: the book's RNN from scratch, as the book's TF tab writes it: parameters W_xh,
  W_hh, b_h, W_hq, b_q as variables, one-hot input, a Python loop over time steps, a
  `tf.GradientTape`, clipping by hand (`if norm > theta`), SGD by hand.
- `Regressor`: a model of real numbers for the autoregressive study: the book's MLP
  (a window of tau values -> 10 ReLU units -> 1) or an RNN reading the window one value a
  step (scratch layout, 1 input) with a linear head on its last state; MSE, Adam by hand.

Weights come in as NumPy (rnnlm.study.weights) and leave as NumPy; every name of
torch_study_models is here with the same meaning, so the same weights give the same numbers.
Nothing is compiled: these are the book's eager, step-by-step models.
"""

import numpy as np

from . import tensorflow_runtime as runtime
from .tensorflow_runtime import tf

NAME = "tensorflow"


def set_num_threads(n):
    """Size TensorFlow's pools, once, before its runtime starts (see tensorflow_runtime)."""
    runtime.start(n)


def to_float(x):
    return float(x)


def _params(weights, dtype, names):
    runtime.start()
    return [tf.Variable(np.asarray(weights[n], dtype=dtype), name=n) for n in names]


def _numpy(model):
    return {n: p.numpy().copy() for n, p in zip(model.names, model.params)}


# ---- the from-scratch language model ------------------------------------------------------


class ScratchLM:
    names = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")

    def __init__(self, weights, activation="tanh", dtype="float32"):
        self.params = _params(weights, dtype, self.names)
        self.act = tf.tanh if activation == "tanh" else tf.nn.relu
        self.dtype = dtype
        self.vocab_size, self.num_hiddens = self.params[0].shape

    def __call__(self, X, state):
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        inputs = tf.one_hot(tf.transpose(tf.constant(np.asarray(X), tf.int64)), self.vocab_size, dtype=self.dtype)
        H, outputs = state, []
        for x in tf.unstack(inputs):  # one time step at a time, as the book
            H = self.act(tf.matmul(x, W_xh) + tf.matmul(H, W_hh) + b_h)
            outputs.append(tf.matmul(H, W_hq) + b_q)
        return tf.concat(outputs, axis=0), H


def scratch_begin_state(model, batch_size):
    return tf.zeros((batch_size, model.num_hiddens), dtype=model.dtype)


def scratch_detach(state):
    return tf.stop_gradient(state)


def scratch_train_step(model, state, X, Y, lr, clip):
    """The book's minibatch: mean cross-entropy, gradient, clip by hand (clip=None: not at
    all), SGD. Returns (state, summed loss on the device, the norm before clipping as float)."""
    y = tf.constant(np.ascontiguousarray(Y.T).reshape(-1), tf.int64)
    with tf.GradientTape() as tape:
        logits, state = model(X, state)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    grads = tape.gradient(loss, model.params)
    norm = float(tf.sqrt(tf.reduce_sum(tf.stack([tf.reduce_sum(g**2) for g in grads]))))
    if clip is not None and norm > clip:
        grads = [g * (clip / norm) for g in grads]
    for p, g in zip(model.params, grads):
        p.assign_sub(lr * g)
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
        X = tf.constant(np.asarray(X), self.dtype)
        if self.kind == "mlp":
            W1, b1, W2, b2 = self.params
            return (tf.matmul(tf.nn.relu(tf.matmul(X, W1) + b1), W2) + b2)[:, 0]
        W_xh, W_hh, b_h, W_hq, b_q = self.params
        H = tf.zeros((X.shape[0], W_hh.shape[0]), dtype=self.dtype)
        for t in range(X.shape[1]):  # the window's values in time order, one a step
            H = tf.tanh(tf.matmul(X[:, t : t + 1], W_xh) + tf.matmul(H, W_hh) + b_h)
        return (tf.matmul(H, W_hq) + b_q)[:, 0]


def regressor_predict(model, X):
    return model(X).numpy()


def make_adam(model):
    return {"t": 0, "m": [tf.zeros_like(p) for p in model.params], "v": [tf.zeros_like(p) for p in model.params]}


def regressor_train_step(model, adam, X, y, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mean squared error, its gradient, one Adam step (written out, so every framework takes
    exactly the same one). Returns the loss as float."""
    target = tf.constant(np.asarray(y), model.dtype)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(X) - target) ** 2)
    grads = tape.gradient(loss, model.params)
    adam["t"] += 1
    t = adam["t"]
    adam["m"] = [beta1 * m + (1 - beta1) * g for m, g in zip(adam["m"], grads)]
    adam["v"] = [beta2 * v + (1 - beta2) * g**2 for v, g in zip(adam["v"], grads)]
    for p, m, v in zip(model.params, adam["m"], adam["v"]):
        p.assign(p - lr * (m / (1 - beta1**t)) / (tf.sqrt(v / (1 - beta2**t)) + eps))
    return float(loss)


def regressor_get_weights(model):
    return _numpy(model)
