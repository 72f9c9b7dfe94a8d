"""What the TensorFlow backend adds to the registry-wide tests: its compiled steps traced once
per shape, its own vanilla-RNN backward against the tape's, its device scalars, its runtime
sized once, the same bits from the same command, and a TensorFlow-only process that trains,
predicts and exports ONNX."""

import os
import subprocess
import sys

import numpy as np
import pytest

from rnnlm.backend import build_model
from rnnlm.checkpoints.file import load_checkpoint
from rnnlm.config import ModelConfig
from rnnlm.model.weights import init_weights
from tests.support.backends import load_or_skip
from tests.support.commands import run_cli

SMALL = ["--num-hiddens", "16", "--max-tokens", "3000", "--quiet", "--threads", "1"]


@pytest.fixture
def tf_backend():
    return load_or_skip("tensorflow")


def _batch(vocab, batch, steps, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, (batch, steps)), rng.integers(0, vocab, (batch, steps))


def test_the_training_step_is_traced_once_per_shape(tf_backend):
    F = tf_backend
    cfg = ModelConfig(vocab_size=9, num_hiddens=8, cell="gru")
    model = build_model(F, cfg, F.resolve_device("cpu"), "float32", init_weights(cfg, 0))
    opt = F.make_optimizer(model, 0.5)
    before = F.TRACES.get("train_step", 0)
    X, Y = _batch(9, 4, 6)
    state = F.begin_state(model, 4)
    for _ in range(5):
        state, _, _ = F.train_step(model, opt, F.detach_state(state), X, Y, 1.0)
    assert F.TRACES["train_step"] == before + 1
    F.train_step(model, opt, F.begin_state(model, 4), X[:, :3], Y[:, :3], 1.0)  # another shape
    assert F.TRACES["train_step"] == before + 2


@pytest.mark.parametrize("activation, bidirectional", [("tanh", False), ("relu", True)])
def test_the_kernels_backward_is_the_tapes(tf_backend, monkeypatch, activation, bidirectional):
    """tensorflow_kernel's own backward against the tape differentiating the unrolled loop."""
    F = tf_backend
    cfg = ModelConfig(vocab_size=7, num_hiddens=5, num_layers=2, bidirectional=bidirectional, activation=activation)
    weights = init_weights(cfg, 2, "float64")
    X, Y = _batch(7, 3, 8, seed=1)
    results = []
    for kernel in (True, False):
        monkeypatch.setattr(F, "KERNEL", kernel)
        model = build_model(F, cfg, F.resolve_device("cpu"), "float64", weights)
        results.append(F.loss_and_grads(model, F.begin_state(model, 3), X, Y))
    (loss_k, grads_k), (loss_t, grads_t) = results
    assert abs(loss_k - loss_t) <= 1e-14 * loss_t
    for name, g in grads_t.items():
        np.testing.assert_allclose(grads_k[name], g, rtol=1e-11, atol=1e-14, err_msg=name)


def test_the_loops_sums_of_device_scalars(tf_backend):
    """The loop adds losses and norms, and counts `norm > clip` by adding the comparison."""
    F = tf_backend
    total, clipped = 0.0, 0.0
    for value in (0.5, 2.0, 3.0):
        norm = F._Scalar(F.tf.constant(value, F.tf.float64))
        total, clipped = total + norm, clipped + (norm > 1.0)
    assert F.to_float(total) == 5.5 and F.to_float(clipped) == 2.0


def test_the_pools_are_sized_once(tf_backend):
    F = tf_backend
    F.set_num_threads(F.num_threads())
    count = F.num_threads()
    F.set_num_threads(count + 1)  # TensorFlow fixed its pools: nothing changes, nothing fails
    assert F.num_threads() == count
    assert F.tf.config.threading.get_intra_op_parallelism_threads() == count
    assert F.environment()["op_determinism"] is True


@pytest.mark.slow  # fresh processes
def test_the_same_command_gives_the_same_bits_and_a_resume_ends_where_a_straight_run_does(tf_backend, tmp_path):
    common = ["train", "--backend", "tensorflow", *SMALL]
    for name in ("a", "b"):
        out = run_cli(*common, "--epochs", "3", "--save", str(tmp_path / f"{name}.npz"))
        assert out.returncode == 0, out.stderr
    half = run_cli(*common, "--epochs", "2", "--save", str(tmp_path / "r.npz"))
    resumed = run_cli(*common, "--epochs", "3", "--save", str(tmp_path / "r.npz"), "--resume")
    assert half.returncode == resumed.returncode == 0, half.stderr + resumed.stderr
    runs = [load_checkpoint(tmp_path / f"{name}.npz") for name in ("a", "b", "r")]
    for _, _, weights, meta in runs[1:]:
        assert meta["threads"] == 1 and meta["backend"] == "tensorflow"
        for name, w in runs[0][2].items():
            assert weights[name].tobytes() == w.tobytes(), name


TF_ONLY = """
import sys
sys.modules.update({name: None for name in ("torch", "mxnet", "jax", "jaxlib")})  # not installed, as it were
from rnnlm.cli.main import main
folder = sys.argv[1]
assert main(["train", "--epochs", "2", "--num-hiddens", "16", "--max-tokens", "3000", "--quiet",
             "--save", folder + "/m.npz"]) == 0
assert main(["predict", "time traveller", "--checkpoint", folder + "/m.npz", "--num-chars", "20"]) == 0
assert main(["export", folder + "/m.npz", "--format", "onnx", "--out", folder + "/m.onnx"]) == 0
assert main(["export", folder + "/m.npz", "--format", "tensorflow", "--out", folder + "/m.weights.h5"]) == 0
print("frameworks:", sorted(m for m in ("torch", "mxnet", "jax") if sys.modules.get(m) is not None))
"""


@pytest.mark.slow  # a fresh process
def test_a_tensorflow_only_process_trains_predicts_and_exports(tf_backend, tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx extra")
    out = subprocess.run(
        [sys.executable, "-c", TF_ONLY, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "RNNLM_BACKEND"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "frameworks: []" in out.stdout and "time traveller" in out.stdout
    assert load_checkpoint(tmp_path / "m.npz")[3]["backend"] == "tensorflow"
    load_or_skip("onnxruntime")
    from rnnlm.api import load

    tf_text = load(str(tmp_path / "m.npz"), backend="tensorflow").predict("time traveller", num_chars=20)
    assert load(str(tmp_path / "m.onnx"), backend="onnxruntime").predict("time traveller", num_chars=20) == tf_text
