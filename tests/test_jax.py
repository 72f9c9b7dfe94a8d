"""What is JAX-specific: the compiled step compiles once per shape, runs repeat bit for bit,
x64 leaves float32 as it was, and a machine with jax alone trains, predicts and exports."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rnnlm.backend import build_model
from rnnlm.config import ModelConfig
from rnnlm.model.weights import init_weights
from tests.support.backends import load_or_skip


@pytest.fixture
def jax_backend():
    return load_or_skip("jax")


def run_python(code, **env):
    """Run `code` in a fresh interpreter; returns its stdout (a failure shows its stderr)."""
    import os

    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_training_step_compiles_once_per_shape(jax_backend):
    J = jax_backend
    cfg = ModelConfig(vocab_size=9, num_hiddens=7, cell="gru")  # a config no other test compiles
    model = build_model(J, cfg, J.resolve_device("cpu"), "float32", init_weights(cfg, 0))
    opt = J.make_optimizer(model, 1.0)
    rng = np.random.default_rng(0)
    before = J.TRACES["train_step"]
    state = J.begin_state(model, 3)
    for _ in range(4):
        X, Y = rng.integers(0, 9, (3, 5)), rng.integers(0, 9, (3, 5))
        state, _, _ = J.train_step(model, opt, J.detach_state(state), X, Y, 1.0)
    assert J.TRACES["train_step"] == before + 1
    J.train_step(model, J.make_optimizer(model, 0.5), J.begin_state(model, 3), X, Y, 2.0)  # lr, clip: no retrace
    assert J.TRACES["train_step"] == before + 1
    J.train_step(model, opt, J.begin_state(model, 2), X[:2], Y[:2], 1.0)  # a new shape compiles again
    assert J.TRACES["train_step"] == before + 2


def test_train_step_consumes_donated_buffers(jax_backend):
    """The step reuses the parameters' and the state's buffers: the arrays passed in are gone."""
    J = jax_backend
    cfg = ModelConfig(vocab_size=5, num_hiddens=4)
    model = build_model(J, cfg, J.resolve_device("cpu"), "float32", init_weights(cfg, 0))
    params, state = dict(model.params), J.begin_state(model, 2)
    X = np.array([[1, 2, 3], [4, 0, 1]])
    new_state, _, _ = J.train_step(model, J.make_optimizer(model, 1.0), state, X, X, 1.0)
    assert all(a.is_deleted() for a in params.values()) and state[0].is_deleted()
    assert not new_state[0].is_deleted() and not model.params["linear.bias"].is_deleted()


def _train_and_dump(dtype, out):
    return (
        "import json, numpy as np, rnnlm\n"
        f"run = rnnlm.train(backend='jax', epochs=3, num_hiddens=32, max_tokens=3000, dtype={dtype!r}, quiet=True)\n"
        "w = run.model.weights()\n"
        "json.dump({'ppl': [h.perplexity for h in run.history], "
        f"'w': {{k: v.tobytes().hex() for k, v in w.items()}}}},"
        f" open({out!r}, 'w'))\n"
    )


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_two_identical_runs_are_bitwise_equal(jax_backend, dtype, tmp_path):
    """Two fresh processes, XLA's CPU thread pool and all: the same bits."""
    outs = [tmp_path / f"{i}.json" for i in range(2)]
    for out in outs:
        run_python(_train_and_dump(dtype, str(out)))
    a, b = (json.loads(p.read_text()) for p in outs)
    assert a["ppl"] == b["ppl"] and a["ppl"][-1] < a["ppl"][0]
    assert a["w"] == b["w"]


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
def test_x64_switch_leaves_float32_bitwise_as_it_was(jax_backend):
    """A float64 model turns on x64 for the process; a float32 run before and after is the same."""
    code = """
import jax, numpy as np
from rnnlm.backend import build_model, load_backend
from rnnlm.config import ModelConfig
from rnnlm.model.weights import init_weights
J = load_backend("jax")
cfg = ModelConfig(vocab_size=11, num_hiddens=8, num_layers=2, cell="lstm", bidirectional=True)
X = np.random.default_rng(0).integers(0, 11, (4, 6))
def run(dtype):
    model = build_model(J, cfg, J.resolve_device("cpu"), dtype, init_weights(cfg, 0, dtype))
    opt, state = J.make_optimizer(model, 1.0), J.begin_state(model, 4)
    for _ in range(3):
        state, loss, _ = J.train_step(model, opt, J.detach_state(state), X, (X + 1) % 11, 1.0)
    return J.to_float(loss), J.get_weights(model), J.state_to_numpy(state)
assert not jax.config.read('jax_enable_x64')
before = run("float32")
wide = run("float64")
assert jax.config.read('jax_enable_x64') and wide[1]["linear.bias"].dtype == np.float64
after = run("float32")
assert before[0] == after[0]
assert all(after[1][k].dtype == np.float32 and (before[1][k] == after[1][k]).all() for k in before[1])
assert all((a == b).all() for a, b in zip(before[2], after[2]))
print("same")
"""
    assert run_python(code).strip() == "same"


@pytest.mark.slow
def test_only_jax_installed_trains_predicts_and_exports_to_onnx(jax_backend, tmp_path):
    pytest.importorskip("onnx")
    ck, onnx_file = tmp_path / "ck.npz", tmp_path / "m.onnx"
    commands = [
        ["train", "--epochs", "2", "--num-hiddens", "16", "--max-tokens", "2000", "--quiet", "--save", str(ck)],
        ["predict", "time traveller", "--checkpoint", str(ck), "--num-chars", "10"],
        ["export", str(ck), "--format", "onnx", "--out", str(onnx_file)],
    ]
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['mxnet'] = None\n"
        "from rnnlm.cli.main import main\n"
        f"for argv in {commands!r}:\n"
        "    assert main(argv) == 0, argv\n"
        "assert sys.modules['torch'] is None and sys.modules['mxnet'] is None\n"
        "import numpy as np\n"
        f"print(sorted(np.load({str(ck)!r}, allow_pickle=False).files)[:2])\n"
    )
    out = run_python(code, RNNLM_BACKEND="jax")
    assert "perplexity " in out and "on cpu" in out
    assert any(
        line.startswith("time traveller") and len(line) == len("time traveller") + 10 for line in out.splitlines()
    )
    assert onnx_file.stat().st_size > 0
    import onnx

    onnx.checker.check_model(onnx.load(str(onnx_file)))


def test_set_num_threads_is_accepted_and_changes_nothing(jax_backend):
    J = jax_backend
    assert J.num_threads() >= 1
    J.set_num_threads(1)  # compress pins threads through it: it must not fail
    J.synchronize()
