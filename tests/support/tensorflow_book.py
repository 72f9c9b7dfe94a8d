"""The book's own TensorFlow code (d2l 0.17.6), run in a fresh process under Keras 2
(`TF_USE_LEGACY_KERAS=1` with tf-keras: the book's `SimpleRNN(time_major=True)` needs it, and
the switch is read when tensorflow is imported, so it cannot be set in the test process).

    python -m tests.support.tensorflow_book train CELL HIDDEN EPOCHS OUT.weights.h5   (cwd: d2l's cache)
    python -m tests.support.tensorflow_book load CELL HIDDEN IN.weights.h5

Each prints one JSON line: the vocabulary, `predict_ch8`'s text and the perplexity of the
corpus slice (sequential batches from offset 0, state carried, as rnnlm eval computes it).
d2l imports IPython, requests and matplotlib_inline at the top for its notebooks; where one
is missing a stand-in whose every function does nothing takes its place (train_ch8 draws
its plot through them).
"""

import importlib.util
import json
import os
import random
import sys
import types

from tests.support.commands import BOOK_BATCH, BOOK_STEPS, BOOK_TOKENS, NUM_CHARS, PREFIX


class _StandIn(types.ModuleType):
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _stand_ins():
    for name, parts in (("IPython", ("display",)), ("requests", ()), ("matplotlib_inline", ("backend_inline",))):
        if importlib.util.find_spec(name) is None:
            module = sys.modules[name] = _StandIn(name)
            module.version_info = (99, 0)  # matplotlib asks IPython's version when it is loaded
            for part in parts:
                setattr(module, part, _StandIn(f"{name}.{part}"))
                sys.modules[f"{name}.{part}"] = getattr(module, part)


def book():
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _stand_ins()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    from d2l import tensorflow as d2l

    return tf, d2l


def make_net(tf, d2l, cell, hidden, vocab_size):
    layer = {"rnn": tf.keras.layers.SimpleRNN, "gru": tf.keras.layers.GRU, "lstm": tf.keras.layers.LSTM}[cell]
    net = d2l.RNNModel(layer(hidden, time_major=True, return_sequences=True, return_state=True), vocab_size=vocab_size)
    net(tf.zeros((1, 1), tf.int32), net.begin_state(batch_size=1, dtype=tf.float32))  # builds the variables
    return net


def perplexity(tf, net, corpus):
    import numpy as np
    from tests.support.book_models import sequential_batches

    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    state, total, n = None, 0.0, 0
    for X, Y in sequential_batches(corpus, BOOK_BATCH, BOOK_STEPS):
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], dtype=tf.float32)
        y_hat, state = net(tf.constant(X), state)
        total += float(loss(tf.reshape(tf.transpose(Y), (-1,)), y_hat)) * Y.size
        n += Y.size
    return float(np.exp(total / n))


def report(tf, d2l, net, vocab, corpus):
    print(
        json.dumps(
            {
                "vocab": vocab.idx_to_token,
                "ppl": perplexity(tf, net, corpus),
                "text": d2l.predict_ch8(PREFIX, NUM_CHARS, net, vocab),
            }
        )
    )


def main(argv):
    tf, d2l = book()
    action, cell, hidden = argv[0], argv[1], int(argv[2])
    corpus, vocab = d2l.load_corpus_time_machine(BOOK_TOKENS)
    if action == "train":
        epochs, out = int(argv[3]), argv[4]
        random.seed(0)
        tf.random.set_seed(0)
        train_iter, vocab = d2l.load_data_time_machine(BOOK_BATCH, BOOK_STEPS, max_tokens=BOOK_TOKENS)
        net = make_net(tf, d2l, cell, hidden, len(vocab))
        d2l.train_ch8(net, train_iter, vocab, 1, epochs, tf.distribute.OneDeviceStrategy("/CPU:0"))
        tf.keras.Sequential([net]).save_weights(out)  # a Keras layer saves through its model
    else:
        net = make_net(tf, d2l, cell, hidden, len(vocab))
        tf.keras.Sequential([net]).load_weights(argv[3])
    report(tf, d2l, net, vocab, corpus)


if __name__ == "__main__":
    main(sys.argv[1:])
