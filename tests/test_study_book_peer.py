"""The from-scratch RNN of `rnnlm study scratch` against the book's own package: d2l 0.17.6's
`RNNModelScratch`, `train_epoch_ch8`, `grad_clipping` and `sgd` (MXNet; d2l's torch module
needs torchvision, not installed here), on the same weights and batches. In a subprocess:
the book's code switches MXNet into its NumPy mode for the whole process."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.support.backends import load_or_skip

PEER = r"""
import json, sys
import numpy as onp
from rnnlm.backends import mxnet_runtime
mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
from d2l import mxnet as d2l
from mxnet import gluon, np, npx
npx.set_np()
from rnnlm.data.batches import make_batches
from rnnlm.config import DataConfig, TrainConfig
from rnnlm.data.dataset import load_training_data
from rnnlm.study.weights import scratch_weights

corpus, _, vocab = load_training_data(DataConfig(), TrainConfig(max_tokens=4000))
V, H = len(vocab), 32
w = scratch_weights(V, H, V, 0, "float32")

def get_params(vocab_size, num_hiddens, device):  # the book's get_params, on given weights
    params = [np.array(w[k], ctx=device) for k in ("W_xh", "W_hh", "b_h", "W_hq", "b_q")]
    for p in params:
        p.attach_grad()
    return params

def init_rnn_state(batch_size, num_hiddens, device):
    return (np.zeros((batch_size, num_hiddens), ctx=device),)

def rnn(inputs, state, params):  # the book's rnn, "RNN from scratch"
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = np.tanh(np.dot(X, W_xh) + np.dot(H, W_hh) + b_h)
        outputs.append(np.dot(H, W_hq) + b_q)
    return np.concatenate(outputs, axis=0), (H,)

device = npx.cpu()
net = d2l.RNNModelScratch(V, H, device, get_params, init_rnn_state, rnn)
rng = onp.random.default_rng(0)
ppl = []
for epoch in range(3):
    batches = [(np.array(X, dtype="float32"), np.array(Y, dtype="float32"))
               for X, Y in make_batches(corpus, 32, 35, "sequential", rng)]
    p, _ = d2l.train_epoch_ch8(net, batches, gluon.loss.SoftmaxCrossEntropyLoss(),
                               lambda batch_size: d2l.sgd(net.params, 1.0, batch_size), device, False)
    ppl.append(p)
print(json.dumps(ppl))
"""


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.parametrize("name", ["torch", "mxnet"])
def test_scratch_model_matches_the_books_own_code(name):
    load_or_skip(name), load_or_skip("mxnet")
    pytest.importorskip("d2l")
    from rnnlm.study import scratch

    done = subprocess.run([sys.executable, "-c", PEER], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    book = json.loads(done.stdout.strip().splitlines()[-1])
    ours = scratch.run({**scratch.points([name], True)[0], "variant": "scratch"})
    np.testing.assert_allclose([h["perplexity"] for h in ours["history"]], book, rtol=1e-5)
