"""rnnlm against the book's own package (d2l 0.17.6), each run the way its user runs it.

    python benchmarks/bench_book.py [--epochs 60] [--repeats 3] [--frameworks torch,mxnet]
                                    [--busy 0,1]

One round per framework: a fresh process trains the book's concise RNN with d2l's own code
(`load_data_time_machine(32, 35)`, `RNNModel`, `train_epoch_ch8`, lr 1, the framework's
default threads: nothing set), then a fresh process runs `rnnlm train --backend B` with its
defaults on the same data (the book's first 10,000 tokens, batch 32, 35 steps, 256 hidden;
for MXNet the book's ReLU). Each pair runs on an idle machine and beside one busy core
(`--busy 0,1`: how many one-core busy loops run beside it, as bench_load.py's). Rounds
alternate, so a drift in the machine touches both alike.
The figure is tokens/s over epochs 2..N (d2l's own per-epoch speed; rnnlm's metrics), the
median of the rounds. The TF tab runs under Keras 2 (`TF_USE_LEGACY_KERAS=1` with tf-keras), as
its `time_major` needs. d2l 0.17.6 has no JAX chapter: `--frameworks jax` runs the book's
PyTorch loop beside `rnnlm train --backend jax`.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EPOCH_LOOP = {  # the book's train_ch8 without its plotting: the same objects, its own epoch function
    "torch": """
import torch
from torch import nn
from d2l import torch as d2l
train_iter, vocab = d2l.load_data_time_machine(32, 35)
net = d2l.RNNModel(nn.RNN(len(vocab), 256), vocab_size=len(vocab))
device = d2l.try_gpu()
net = net.to(device)
loss = nn.CrossEntropyLoss()
updater = torch.optim.SGD(net.parameters(), 1)
""",
    "mxnet": """
from rnnlm.backends import mxnet_runtime
mxnet_runtime.load()  # np.bool for MXNet 1.9.1, before mxnet is imported
from mxnet import gluon, init, npx
from mxnet.gluon import rnn
from d2l import mxnet as d2l
npx.set_np()
train_iter, vocab = d2l.load_data_time_machine(32, 35)
net = d2l.RNNModel(rnn.RNN(256), len(vocab))
device = d2l.try_gpu()
net.initialize(ctx=device, force_reinit=True, init=init.Normal(0.01))
loss = gluon.loss.SoftmaxCrossEntropyLoss()
trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 1})
updater = lambda batch_size: trainer.step(batch_size)
""",
    "tensorflow": """
import tensorflow as tf
from d2l import tensorflow as d2l
train_iter, vocab = d2l.load_data_time_machine(32, 35)
device_name = d2l.try_gpu()._device_name
strategy = tf.distribute.OneDeviceStrategy(device_name)
with strategy.scope():
    net = d2l.RNNModel(tf.keras.layers.SimpleRNN(256, kernel_initializer='glorot_uniform', time_major=True,
                                                 return_sequences=True, return_state=True), vocab_size=len(vocab))
    loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    updater = tf.keras.optimizers.SGD(1)
device = None  # the book's TF train_epoch_ch8 takes no device
""",
}

# the book's MXNet RNN is ReLU
RNNLM_ARGS = {"torch": [], "mxnet": ["--activation", "relu"], "jax": [], "tensorflow": []}
# d2l 0.17.6 has no JAX chapter: JAX's readers are measured against the book's PyTorch loop
BOOK_LOOP = {"jax": "torch"}


def prepare_for_d2l(framework):
    """What importing `d2l.<framework>` needs in a process with no screen and no torchvision."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    if framework == "torch":
        try:
            import torchvision  # noqa: F401  (d2l.torch imports it for its image chapters)
        except ImportError:
            import types

            stand_in = types.ModuleType("torchvision")
            stand_in.transforms = types.ModuleType("torchvision.transforms")
            sys.modules.update({"torchvision": stand_in, "torchvision.transforms": stand_in.transforms})
    if framework == "tensorflow":
        # the book's SimpleRNN(time_major=True) needs Keras 2 (tf-keras), chosen when tf loads;
        # d2l imports IPython and kin for its notebooks: stand-ins where they are missing
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        from tests.support.tensorflow_book import _stand_ins

        _stand_ins()


def book_worker(framework, epochs):
    """Runs in the fresh process: d2l's epochs, one JSON line of (tokens, seconds) per epoch."""
    prepare_for_d2l(framework)
    scope: dict = {}
    exec(EPOCH_LOOP[framework], scope)
    d2l = scope["d2l"]
    for _ in range(epochs):
        device = () if framework == "tensorflow" else (scope["device"],)
        ppl, speed = d2l.train_epoch_ch8(
            scope["net"], scope["train_iter"], scope["loss"], scope["updater"], *device, False
        )
        print(json.dumps({"perplexity": ppl, "tokens_per_sec": speed}), flush=True)


def corpus_cache(root):
    """d2l reads the corpus from ../data (its download cache, checked by SHA-1): the embedded one."""
    import rnnlm
    from rnnlm.data.corpus import EMBEDDED_NAME

    os.makedirs(os.path.join(root, "data"))
    shutil.copy(
        os.path.join(os.path.dirname(rnnlm.__file__), "data", EMBEDDED_NAME),
        os.path.join(root, "data", "timemachine.txt"),
    )
    work = os.path.join(root, "work")
    os.makedirs(work)
    return work


def plain_environment():
    """The environment a user's shell gives: none of the thread variables (bench_load's levers) set."""
    from benchmarks.bench_load import LEVERS

    return {k: v for k, v in os.environ.items() if k not in LEVERS}


def mean_speed(history):
    """Tokens/s of epochs 2..N: all their tokens over all their seconds."""
    rest = history[1:]
    return len(rest) / sum(1 / h["tokens_per_sec"] for h in rest)  # equal tokens per epoch


def run_book(framework, epochs, work):
    framework = BOOK_LOOP.get(framework, framework)
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", framework, "--epochs", str(epochs)],
        cwd=work,
        env=plain_environment(),
        capture_output=True,
        text=True,
    )
    history = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or len(history) != epochs:
        raise SystemExit(f"error: d2l's {framework} loop failed: {(out.stderr.strip().splitlines() or [''])[-1]}")
    return history


RNNLM_ENV: dict = {}  # --rnnlm-env: a setting tried against the book (the default: none)


def run_rnnlm(framework, epochs, work):
    metrics = os.path.join(work, "rnnlm.json")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnlm",
            "train",
            "--backend",
            framework,
            "--epochs",
            str(epochs),
            "--quiet",
            "--metrics-json",
            metrics,
            *RNNLM_ARGS[framework],
        ],
        check=True,
        env={**plain_environment(), **RNNLM_ENV},
        stdout=subprocess.DEVNULL,
    )
    with open(metrics) as f:
        return json.load(f)["history"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frameworks", default="torch,mxnet")
    parser.add_argument("--busy", default="0,1", help="busy loops beside each run, one figure each (0: idle)")
    parser.add_argument(
        "--rnnlm-env", action="append", default=[], metavar="VAR=VALUE", help="a setting for rnnlm's runs only"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    RNNLM_ENV.update(item.split("=", 1) for item in args.rnnlm_env)
    if args.worker:
        return book_worker(args.worker, args.epochs)
    from benchmarks.bench_load import busy_loops
    from benchmarks.machine import cpu_name
    from rnnlm.study.common import table
    from rnnlm.threads import available_cores

    print(
        f"# {cpu_name()}, {available_cores()} cores; {args.epochs} epochs a run, tokens/s of epochs 2..N, "
        f"median of {args.repeats} alternating rounds" + (f"; rnnlm with {RNNLM_ENV}" if RNNLM_ENV else ""),
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = corpus_cache(tmp)
        busy_counts = [int(b) for b in args.busy.split(",")]
        for framework in args.frameworks.split(","):
            speeds = {(b, name): [] for b in busy_counts for name in ("d2l", "rnnlm")}
            last = {}
            for _ in range(args.repeats):
                for busy in busy_counts:
                    for name, run in (("d2l", run_book), ("rnnlm", run_rnnlm)):
                        with busy_loops(busy):
                            history = run(framework, args.epochs, work)
                        speeds[busy, name].append(mean_speed(history))
                        last[name] = history[-1]["perplexity"]
            for busy in busy_counts:
                row = {
                    "framework": framework,
                    "busy": busy,
                    "epochs": args.epochs,
                    "final_perplexity": last,
                    **{
                        name: {"median": statistics.median(v), "all": [round(x) for x in v]}
                        for (b, name), v in speeds.items()
                        if b == busy
                    },
                }
                row["speedup"] = row["rnnlm"]["median"] / row["d2l"]["median"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n"
        + table(
            [
                "framework",
                "beside",
                "d2l 0.17.6 tokens/s",
                "rnnlm tokens/s",
                "rnnlm / d2l",
                "final perplexity d2l / rnnlm",
            ],
            [
                [
                    r["framework"],
                    f"{r['busy']} busy core(s)" if r["busy"] else "idle",
                    f"{r['d2l']['median']:,.0f}",
                    f"{r['rnnlm']['median']:,.0f}",
                    f"{r['speedup']:.2f}x",
                    f"{r['final_perplexity']['d2l']:.2f} / {r['final_perplexity']['rnnlm']:.2f}",
                ]
                for r in rows
            ],
        ),
        end="",
    )


if __name__ == "__main__":
    main()
