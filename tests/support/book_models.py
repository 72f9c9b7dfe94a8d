"""The book's code, re-created for the interoperability tests (d2l is not a dependency).

d2l.ai 0.17, "Concise Implementation of Recurrent Neural Networks": the PyTorch and the
MXNet Gluon `RNNModel`, `predict_ch8`, and a few SGD steps and a perplexity pass written as
the book writes them. Each framework is imported inside the function that needs it.
"""

import numpy as np


def sequential_batches(corpus, batch_size, num_steps):
    """The book's seq_data_iter_sequential with offset 0."""
    num_tokens = ((len(corpus) - 1) // batch_size) * batch_size
    Xs = np.asarray(corpus[:num_tokens]).reshape(batch_size, -1)
    Ys = np.asarray(corpus[1 : num_tokens + 1]).reshape(batch_size, -1)
    for i in range(0, num_steps * (Xs.shape[1] // num_steps), num_steps):
        yield Xs[:, i : i + num_steps], Ys[:, i : i + num_steps]


# ---- PyTorch -------------------------------------------------------------------------------


def torch_model(cell, vocab_size, num_hiddens, num_layers=1, bidirectional=False, nonlinearity="tanh"):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class RNNModel(nn.Module):
        """The book's PyTorch RNN model."""

        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super(RNNModel, self).__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            self.num_directions = 2 if self.rnn.bidirectional else 1
            self.linear = nn.Linear(self.num_hiddens * self.num_directions, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(torch.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, device, batch_size=1):
            shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
            if not isinstance(self.rnn, nn.LSTM):
                return torch.zeros(shape, device=device)
            return (torch.zeros(shape, device=device), torch.zeros(shape, device=device))

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny models; see test_interop.one_thread
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cell](
        vocab_size, num_hiddens, num_layers, bidirectional=bidirectional, **extra
    )
    return RNNModel(layer, vocab_size)


def torch_train(net, corpus, steps=8, batch_size=8, num_steps=10, lr=1.0):
    import torch
    from torch import nn

    loss, opt = nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr)
    for i, (X, Y) in zip(range(steps), sequential_batches(corpus, batch_size, num_steps)):
        state = net.begin_state(batch_size=batch_size, device="cpu")
        y_hat, _ = net(torch.tensor(X), state)
        l = loss(y_hat, torch.tensor(Y).T.reshape(-1).long())  # noqa: E741
        opt.zero_grad()
        l.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()


def torch_perplexity(net, corpus, batch_size, num_steps):
    import torch
    from torch.nn import functional as F

    state, total, n = None, 0.0, 0
    with torch.no_grad():
        for X, Y in sequential_batches(corpus, batch_size, num_steps):
            state = net.begin_state(batch_size=batch_size, device="cpu") if state is None else state
            y_hat, state = net(torch.tensor(X), state)
            total += float(F.cross_entropy(y_hat, torch.tensor(Y).T.reshape(-1).long(), reduction="sum"))
            n += Y.size
    return float(np.exp(total / n))


def torch_predict(prefix, num_preds, net, vocab):
    """The book's predict_ch8."""
    import torch

    state = net.begin_state(batch_size=1, device="cpu")
    outputs = [vocab[prefix[0]]]
    get_input = lambda: torch.tensor([outputs[-1]]).reshape((1, 1))  # noqa: E731
    with torch.no_grad():
        for y in prefix[1:]:
            _, state = net(get_input(), state)
            outputs.append(vocab[y])
        for _ in range(num_preds):
            y, state = net(get_input(), state)
            outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join([vocab.idx_to_token[i] for i in outputs])


# ---- MXNet (Gluon, classic mx.nd) -----------------------------------------------------------


def mxnet_model(cell, vocab_size, num_hiddens, num_layers=1, bidirectional=False, activation=None):
    """The book's Gluon model. `activation=None` keeps rnn.RNN's own default (relu)."""
    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    import mxnet as mx
    from mxnet import nd
    from mxnet.gluon import nn, rnn

    mx.random.seed(0)

    class RNNModel(nn.Block):
        """The book's MXNet RNN model."""

        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super(RNNModel, self).__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.dense = nn.Dense(vocab_size)

        def forward(self, inputs, state):
            X = nd.one_hot(inputs.T, self.vocab_size)
            Y, state = self.rnn(X, state)
            output = self.dense(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, *args, **kwargs):
            return self.rnn.begin_state(*args, **kwargs)

    extra = {"activation": activation} if cell == "rnn" and activation else {}
    layer = {"rnn": rnn.RNN, "gru": rnn.GRU, "lstm": rnn.LSTM}[cell](
        num_hiddens, num_layers=num_layers, bidirectional=bidirectional, **extra
    )
    return RNNModel(layer, vocab_size)


def mxnet_train(net, corpus, steps=8, batch_size=8, num_steps=10, lr=1.0):
    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    from mxnet import autograd, gluon, init, nd

    net.initialize(init.Normal(0.1), force_reinit=True)
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    for i, (X, Y) in zip(range(steps), sequential_batches(corpus, batch_size, num_steps)):
        state = net.begin_state(batch_size=batch_size)
        with autograd.record():
            y_hat, _ = net(nd.array(X), state)
            l = loss(y_hat, nd.array(Y).T.reshape((-1,))).mean()  # noqa: E741
        l.backward()
        trainer.step(1)


def mxnet_perplexity(net, corpus, batch_size, num_steps):
    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    from mxnet import gluon, nd

    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    state, total, n = None, 0.0, 0
    for X, Y in sequential_batches(corpus, batch_size, num_steps):
        state = net.begin_state(batch_size=batch_size) if state is None else state
        y_hat, state = net(nd.array(X), state)
        total += float(loss(y_hat, nd.array(Y).T.reshape((-1,))).sum().asscalar())
        n += Y.size
    return float(np.exp(total / n))


def mxnet_predict(prefix, num_preds, net, vocab):
    """The book's predict_ch8."""
    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
    from mxnet import nd

    state = net.begin_state(batch_size=1)
    outputs = [vocab[prefix[0]]]
    get_input = lambda: nd.array([outputs[-1]]).reshape((1, 1))  # noqa: E731
    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(axis=1).reshape(1).asscalar()))
    return "".join([vocab.idx_to_token[i] for i in outputs])


# ---- the book's train_ch8 (sequential iterator: state carried, detached per minibatch) -------


def random_offset_batches(corpus, batch_size, num_steps, rng):
    """The book's seq_data_iter_sequential: a random offset, then sequential minibatches."""
    offset = rng.integers(0, num_steps)
    return sequential_batches(np.asarray(corpus)[offset:], batch_size, num_steps)


def torch_train_ch8(net, corpus, lr, num_epochs, batch_size=32, num_steps=35, seed=0):
    """The book's train_ch8 with PyTorch: SGD, gradient clipping to norm 1. Returns the last
    epoch's perplexity."""
    import math

    import torch
    from torch import nn

    rng, loss = np.random.default_rng(seed), nn.CrossEntropyLoss()
    updater = torch.optim.SGD(net.parameters(), lr)
    for _ in range(num_epochs):
        state, total, n = None, 0.0, 0
        for X, Y in random_offset_batches(corpus, batch_size, num_steps, rng):
            if state is None:
                state = net.begin_state(batch_size=X.shape[0], device="cpu")
            else:
                state = state.detach_() if not isinstance(state, tuple) else tuple(s.detach_() for s in state)
            y = torch.tensor(Y).T.reshape(-1).long()
            y_hat, state = net(torch.tensor(X), state)
            l = loss(y_hat, y).mean()  # noqa: E741
            updater.zero_grad()
            l.backward()
            params = [p for p in net.parameters() if p.requires_grad]  # the book's grad_clipping
            norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
            if norm > 1:
                for p in params:
                    p.grad[:] *= 1 / norm
            updater.step()
            total, n = total + float(l.detach()) * y.numel(), n + y.numel()
    return math.exp(total / n)


def mxnet_train_ch8(net, corpus, lr, num_epochs, batch_size=32, num_steps=35, seed=0):
    """The book's train_ch8 with MXNet Gluon (init Normal(0.01), as the book). Returns the last
    epoch's perplexity."""
    import math

    from rnnlm.backends import mxnet_runtime

    mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported

    from mxnet import autograd, gluon, init, nd

    rng, loss = np.random.default_rng(seed), gluon.loss.SoftmaxCrossEntropyLoss()
    net.initialize(init.Normal(0.01), force_reinit=True)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    for _ in range(num_epochs):
        state, total, n = None, 0.0, 0
        for X, Y in random_offset_batches(corpus, batch_size, num_steps, rng):
            if state is None:
                state = net.begin_state(batch_size=X.shape[0])
            else:
                state = [s.detach() for s in state]
            y = nd.array(Y).T.reshape((-1,))
            with autograd.record():
                y_hat, state = net(nd.array(X), state)
                l = loss(y_hat, y).mean()  # noqa: E741
            l.backward()
            params = [p.data() for p in net.collect_params().values()]  # the book's grad_clipping
            norm = math.sqrt(sum((p.grad**2).sum().asscalar() for p in params))
            if norm > 1:
                for p in params:
                    p.grad[:] *= 1 / norm
            trainer.step(batch_size=1)
            total, n = total + float(l.asscalar()) * y.size, n + y.size
    return math.exp(total / n)
