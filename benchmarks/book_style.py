"""The book's own training loop (d2l.ai `train_epoch_ch8` with the concise `RNNModel`), per
framework, as the speed baseline: one-hot input through a dense input weight, no
hybridization or fusion, a Python loop over parameters for clipping, and a host sync each
minibatch (the loss read into a Python float, and `if norm > theta`). Same model, same
initial weights and batches as rnnlm, so only the implementation differs.
"""

import math
import time


def torch_epoch_fn(cfg, weights, lr):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class RNNModel(nn.Module):
        def __init__(self, rnn_layer, vocab_size):
            super().__init__()
            self.rnn, self.vocab_size = rnn_layer, vocab_size
            self.linear = nn.Linear(rnn_layer.hidden_size, vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float32)
            Y, state = self.rnn(X, state)
            return self.linear(Y.reshape((-1, Y.shape[-1]))), state

    cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cfg.cell]
    net = RNNModel(cell(cfg.vocab_size, cfg.num_hiddens), cfg.vocab_size)
    net.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    updater = torch.optim.SGD(net.parameters(), lr)
    loss = nn.CrossEntropyLoss()

    def grad_clipping(theta):
        params = [p for p in net.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum((p.grad**2)) for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def begin_state(batch_size):
        z = torch.zeros((1, batch_size, cfg.num_hiddens))
        return (z, z.clone()) if cfg.cell == "lstm" else z

    def epoch(batches):
        state, total, n = None, 0.0, 0
        start = time.perf_counter()
        for X, Y in batches:
            X, Y = torch.tensor(X), torch.tensor(Y)
            if state is None:
                state = begin_state(X.shape[0])
            else:
                state = tuple(s.detach_() for s in state) if isinstance(state, tuple) else state.detach_()
            y = Y.T.reshape(-1)
            y_hat, state = net(X, state)
            l = loss(y_hat, y.long()).mean()  # noqa: E741  (the book's name)
            updater.zero_grad()
            l.backward()
            grad_clipping(1)
            updater.step()
            total += float(l * y.numel())
            n += y.numel()
        return math.exp(total / n), n / (time.perf_counter() - start)

    return epoch


def mxnet_epoch_fn(cfg, weights, lr):
    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.gluon import nn, rnn

    class RNNModel(nn.Block):
        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super().__init__(**kwargs)
            self.rnn, self.vocab_size = rnn_layer, vocab_size
            self.dense = nn.Dense(vocab_size)

        def forward(self, inputs, state):
            X = mx.nd.one_hot(inputs.T, self.vocab_size)
            Y, state = self.rnn(X, state)
            return self.dense(Y.reshape((-1, Y.shape[-1]))), state

    extra = {"activation": "tanh"} if cfg.cell == "rnn" else {}  # the book's MXNet default is relu
    layer = {"rnn": rnn.RNN, "gru": rnn.GRU, "lstm": rnn.LSTM}[cfg.cell](cfg.num_hiddens, **extra)
    net = RNNModel(layer, cfg.vocab_size)
    net.initialize()
    net(mx.nd.zeros((1, 1)), layer.begin_state(batch_size=1))  # finish deferred initialization
    own = {
        "rnn.weight_ih_l0": layer.l0_i2h_weight,
        "rnn.weight_hh_l0": layer.l0_h2h_weight,
        "rnn.bias_ih_l0": layer.l0_i2h_bias,
        "rnn.bias_hh_l0": layer.l0_h2h_bias,
        "linear.weight": net.dense.weight,
        "linear.bias": net.dense.bias,
    }
    for name, param in own.items():
        param.set_data(mx.nd.array(weights[name]))
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()

    def grad_clipping(theta):
        params = [p.data() for p in net.collect_params().values()]
        norm = math.sqrt(sum((p.grad**2).sum().asscalar() for p in params))
        if norm > theta:
            for param in params:
                param.grad[:] *= theta / norm

    def epoch(batches):
        state, total, n = None, 0.0, 0
        start = time.perf_counter()
        for X, Y in batches:
            X, Y = mx.nd.array(X), mx.nd.array(Y)
            if state is None:
                state = layer.begin_state(batch_size=X.shape[0])
            else:
                state = [s.detach() for s in state]
            y = Y.T.reshape(-1)
            with autograd.record():
                y_hat, state = net(X, state)
                l = loss(y_hat, y).mean()  # noqa: E741  (the book's name)
            l.backward()
            grad_clipping(1)
            trainer.step(batch_size=1)
            total += float((l * y.size).asscalar())
            n += y.size
        return math.exp(total / n), n / (time.perf_counter() - start)

    return epoch


def jax_epoch_fn(cfg, weights, lr):
    """The book's loop in JAX's terms (its JAX tab jits the loss and gradient): the time loop
    a Python `for` unrolled inside one jitted value-and-gradient, then clipping and SGD
    eagerly over the parameters, with the `if norm > theta` and the loss read on the host."""
    import jax
    import jax.numpy as jnp

    if cfg.cell != "rnn":
        raise ValueError("the JAX baseline is the book's vanilla RNN")
    params = {k: jnp.asarray(v) for k, v in weights.items()}

    def loss_fn(params, state, X, Y):
        inputs = jax.nn.one_hot(X.T, cfg.vocab_size, dtype=jnp.float32)
        h, outputs = state, []
        for x in inputs:  # the book's per-step loop
            h = jnp.tanh(
                x @ params["rnn.weight_ih_l0"].T
                + params["rnn.bias_ih_l0"]
                + h @ params["rnn.weight_hh_l0"].T
                + params["rnn.bias_hh_l0"]
            )
            outputs.append(h)
        y_hat = jnp.concatenate(outputs) @ params["linear.weight"].T + params["linear.bias"]
        log_p = jax.nn.log_softmax(y_hat)
        return -jnp.mean(jnp.take_along_axis(log_p, Y.T.reshape(-1, 1), axis=1)), h

    grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))

    def epoch(batches):
        nonlocal params
        state, total, n = None, 0.0, 0
        start = time.perf_counter()
        for X, Y in batches:
            if state is None:
                state = jnp.zeros((X.shape[0], cfg.num_hiddens), jnp.float32)
            (l, state), grads = grad_fn(params, state, jnp.asarray(X), jnp.asarray(Y))  # noqa: E741  (the book's name)
            norm = jnp.sqrt(sum(jnp.sum(g**2) for g in grads.values()))
            if norm > 1:  # grad_clipping(1)
                grads = {k: g * (1 / norm) for k, g in grads.items()}
            params = {k: p - lr * grads[k] for k, p in params.items()}
            total += float(l) * Y.size
            n += Y.size
        return math.exp(total / n), n / (time.perf_counter() - start)

    return epoch


def tensorflow_epoch_fn(cfg, weights, lr):
    """The book's TF tab: its `RNNModel` (a Keras layer around `SimpleRNN(time_major=True,
    return_sequences=True, return_state=True)` and a `Dense`), an eager `GradientTape` step,
    its `grad_clipping` (the norm read on the host with `.numpy()`) and Keras' SGD. Keras 2's
    layers, from tf-keras, as the book needs (`time_major` is gone from Keras 3)."""
    import tensorflow as tf
    import tf_keras as keras

    class RNNModel(keras.layers.Layer):
        def __init__(self, rnn_layer, vocab_size):
            super().__init__()
            self.rnn, self.vocab_size = rnn_layer, vocab_size
            self.dense = keras.layers.Dense(vocab_size)

        def call(self, inputs, state):
            X = tf.one_hot(tf.transpose(inputs), self.vocab_size)
            Y, *state = self.rnn(X, state)
            return self.dense(tf.reshape(Y, (-1, Y.shape[-1]))), state

        def begin_state(self, *args, **kwargs):
            return self.rnn.cell.get_initial_state(*args, **kwargs)

    if cfg.cell != "rnn":
        raise ValueError("the TensorFlow baseline is the book's SimpleRNN")
    net = RNNModel(
        keras.layers.SimpleRNN(cfg.num_hiddens, time_major=True, return_sequences=True, return_state=True),
        cfg.vocab_size,
    )
    net(tf.zeros((1, 1), tf.int32), net.begin_state(batch_size=1, dtype=tf.float32))
    net.set_weights(
        [
            weights["rnn.weight_ih_l0"].T,
            weights["rnn.weight_hh_l0"].T,
            weights["rnn.bias_ih_l0"] + weights["rnn.bias_hh_l0"],
            weights["linear.weight"].T,
            weights["linear.bias"],
        ]
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    updater = keras.optimizers.SGD(lr)

    def grad_clipping(grads, theta):  # the book's, host sync included
        theta = tf.constant(theta, dtype=tf.float32)
        norm = tf.cast(tf.math.sqrt(sum((tf.reduce_sum(grad**2)).numpy() for grad in grads)), tf.float32)
        if tf.greater(norm, theta):
            grads = [grad * theta / norm for grad in grads]
        return grads

    def epoch(batches):
        state, total, n = None, 0.0, 0
        start = time.perf_counter()
        for X, Y in batches:
            if state is None:
                state = net.begin_state(batch_size=X.shape[0], dtype=tf.float32)
            with tf.GradientTape(persistent=True) as g:
                y_hat, state = net(X, state)
                y = tf.reshape(tf.transpose(Y), (-1))
                l = loss(y, y_hat)  # noqa: E741
            grads = grad_clipping(g.gradient(l, net.trainable_variables), 1.0)
            updater.apply_gradients(zip(grads, net.trainable_variables))
            total += float(l) * Y.size
            n += Y.size
        return math.exp(total / n), n / (time.perf_counter() - start)

    return epoch


EPOCH_FNS = {"torch": torch_epoch_fn, "mxnet": mxnet_epoch_fn, "jax": jax_epoch_fn, "tensorflow": tensorflow_epoch_fn}


def supports(cfg, backend="torch"):
    """The baseline is the book's single-layer, unidirectional model (on JAX and TensorFlow,
    its vanilla RNN)."""
    return cfg.num_layers == 1 and not cfg.bidirectional and (backend not in ("jax", "tensorflow") or cfg.cell == "rnn")
