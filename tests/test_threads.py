"""Thread counts: chosen once (never from timings), recorded, reused on resume; the same
command gives the same bits whatever the load and whichever framework loaded first."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnnlm import threads
from rnnlm.backend import SPECS
from rnnlm.backends.common.runtime import framework_environment
from rnnlm.checkpoints.file import META_KEY, load_checkpoint
from rnnlm.errors import UsageError
from tests.support.commands import HANG_GUARD_SECONDS, run_cli

BOOK_WORK = threads.step_work(32, 256, 28)
TIMINGS = ("tokens_per_sec", "seconds")


def test_choose_takes_the_checkpoint_then_the_flag_then_the_environment_then_the_default():
    assert threads.choose(3, None, {"OMP_NUM_THREADS": "2"}, cores=8).count == 3
    assert threads.choose(0, None, {"OMP_NUM_THREADS": "2"}, cores=8) == threads.Choice(2, "OMP_NUM_THREADS")
    assert threads.choose(0, None, {"OMP_NUM_THREADS": "x"}, cores=8, work=BOOK_WORK).source == "default"
    resumed = threads.choose(0, 2, {}, cores=8)
    assert resumed == threads.Choice(2, "checkpoint") and resumed.note is None
    assert threads.choose(2, 2, {"OMP_NUM_THREADS": "5"}, cores=8).note is None


def test_a_resume_asked_for_another_count_keeps_the_recorded_one_and_says_so():
    choice = threads.choose(4, 1, {}, cores=8, checkpoint="m.npz")
    assert choice.count == 1 and choice.source == "checkpoint"
    assert choice.note.startswith("note: resuming with the 1 thread 'm.npz' was trained with, not --threads 4")
    assert "\n" not in choice.note
    assert "OMP_NUM_THREADS 3" in threads.choose(0, 2, {"OMP_NUM_THREADS": "3"}, cores=8).note


def test_default_depends_on_cores_and_model_size_only():
    assert threads.default_threads(1, BOOK_WORK) == 1
    assert threads.default_threads(2, BOOK_WORK) == 2  # passive waits: the second core pays, idle or not
    assert threads.default_threads(4, BOOK_WORK) == 4
    assert threads.default_threads(64, BOOK_WORK) == 4  # the book's model: a few threads at most
    assert threads.default_threads(64, 100 * BOOK_WORK) == 64
    assert threads.default_threads(8, threads.step_work(32, 16, 28)) == 1  # too small to split
    # a backend that splits only larger steps (MXNet: split_factor 3) runs the book's model on one
    assert threads.default_threads(2, BOOK_WORK, split_factor=3) == 1
    assert threads.default_threads(2, 3 * threads.SMALL_STEP, split_factor=3) == 2
    assert threads.choose(0, None, {}, cores=2, work=BOOK_WORK, split_factor=3) == threads.Choice(1, "default")


def test_framework_environment_is_put_back(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with framework_environment(OMP_NUM_THREADS=None, MXNET_OMP_MAX_THREADS="2"):
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and "OMP_NUM_THREADS" not in os.environ
        assert os.environ["MXNET_OMP_MAX_THREADS"] == "2"
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "OMP_WAIT_POLICY" not in os.environ and "MXNET_OMP_MAX_THREADS" not in os.environ
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's choice is kept
    with framework_environment():
        assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, any_backend):
    path = tmp_path_factory.mktemp("t") / "t.npz"
    assert (
        run_cli(
            "train",
            "--epochs",
            "1",
            "--num-hiddens",
            "8",
            "--max-tokens",
            "2000",
            "--quiet",
            "--backend",
            any_backend,
            "--save",
            str(path),
        ).returncode
        == 0
    )
    return path


@pytest.mark.parametrize("value", [0, -1, 10**6, "2", 1.5, True])
def test_a_recorded_count_is_checked(tiny_checkpoint, tmp_path, value):
    path = tmp_path / "t.npz"
    with np.load(tiny_checkpoint, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays[META_KEY]))
    meta["threads"] = value
    arrays[META_KEY] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(UsageError, match="'threads' must be a thread count"):
        load_checkpoint(path)


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ---- whichever framework loads first --------------------------------------------------

PROBE = """
import sys
if sys.argv[1] == "torch-first":
    import torch
    torch.set_num_threads(1)
import rnnlm
r = rnnlm.train(backend="mxnet", epochs=1, num_hiddens=64, iter="random", seed=7, quiet=True)
w = r.model.weights()
print(repr(r.history[0].perplexity), sum(float(abs(v).sum()) for v in w.values()).hex())
"""


@pytest.mark.parametrize("count", [None, "2"])
@pytest.mark.slow  # fresh processes, each loading a framework
def test_mxnet_computes_the_same_with_or_without_torch_loaded_first(backend, count):
    """torch and MXNet share one libgomp; MXNet's count once depended on which loaded it."""
    if backend.NAME != "mxnet" or not _has("torch"):
        pytest.skip("needs mxnet and torch")
    if threads.available_cores() < 2:
        pytest.skip("one core: every order computes with one thread")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MXNET_OMP_MAX_THREADS")}
    env["OMP_WAIT_POLICY"] = "PASSIVE"  # a bare `import torch` would spin (slow on a loaded machine)
    if count:
        env["OMP_NUM_THREADS"] = count

    def probe(order):
        proc = subprocess.run(
            [sys.executable, "-c", PROBE, order], capture_output=True, text=True, env=env, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert probe("torch-first") == probe("alone")


# ---- the same command, the same bits -------------------------------------------------


def without_timings(path):
    _, vocab, weights, meta = load_checkpoint(path)
    meta = dict(meta, history=[{k: v for k, v in h.items() if k not in TIMINGS} for h in meta["history"]])
    meta.pop("train_seconds")
    return weights, meta


def assert_same_run(a, b):
    (wa, ma), (wb, mb) = without_timings(a), without_timings(b)
    assert ma == mb
    assert sorted(wa) == sorted(wb)
    for name in wa:
        assert wa[name].tobytes() == wb[name].tobytes(), name


# the default model (256 hidden units), default threads, a few minibatches an epoch
DEFAULT_SMALL = ["--epochs", "3", "--max-tokens", "3000", "--quiet"]


@pytest.mark.slow  # fresh processes, each loading a framework
def test_the_same_command_under_other_load_gives_the_same_checkpoint(backend, tmp_path):
    env = {"OMP_NUM_THREADS": None}  # the default choice
    cmd = ["train", "--backend", backend.NAME, *DEFAULT_SMALL]
    quiet = run_cli(*cmd, "--save", str(tmp_path / "a.npz"), env=env)
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded = run_cli(*cmd, "--save", str(tmp_path / "b.npz"), env=env)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert quiet.returncode == loaded.returncode == 0, quiet.stderr + loaded.stderr
    assert_same_run(tmp_path / "a.npz", tmp_path / "b.npz")
    chosen = threads.choose(0, None, {}, work=BOOK_WORK, split_factor=SPECS[backend.NAME].split_factor).count
    # what the backend computes with in a fresh process given that choice: the choice, or
    # for a backend whose pool its framework sizes (XLA) that pool. Asked in a fresh process,
    # since this one's framework may have fixed its pools already (TensorFlow does at start)
    assert load_checkpoint(tmp_path / "a.npz")[3]["threads"] == fresh_thread_count(backend.NAME, chosen)


def fresh_thread_count(name, count):
    """`num_threads()` of backend `name` loaded with `count` threads in a fresh process."""
    code = (
        "import sys; from rnnlm.backend import load_backend; "
        "b = load_backend(sys.argv[1], int(sys.argv[2])); b.set_num_threads(int(sys.argv[2])); print(b.num_threads())"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-c", code, name, str(count)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.slow  # fresh processes, each loading a framework
def test_a_resume_with_another_thread_count_keeps_the_recorded_one(backend, tmp_path):
    before = backend.num_threads()
    backend.set_num_threads(1)
    settable = backend.num_threads() == 1
    backend.set_num_threads(before)
    if not settable:
        pytest.skip(f"{backend.NAME} computes with its framework's own pool: there is no count to keep")
    path = tmp_path / "r.npz"
    small = [
        "train",
        "--backend",
        backend.NAME,
        "--num-hiddens",
        "16",
        "--max-tokens",
        "3000",
        "--quiet",
        "--save",
        str(path),
    ]
    assert run_cli(*small, "--epochs", "2", "--threads", "1").returncode == 0
    resumed = run_cli(*small, "--epochs", "3", "--threads", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    notes = [line for line in resumed.stderr.splitlines() if line.strip()]
    assert len(notes) == 2 and notes[0].startswith("note: resuming with the 1 thread") and "--threads 2" in notes[0]
    assert notes[1] == "resuming from epoch 2"
    meta = load_checkpoint(path)[3]
    assert meta["threads"] == 1 and meta["epoch"] == 3
    # and it ends where the uninterrupted run with that count ends
    straight = tmp_path / "s.npz"
    assert run_cli(*small[:-1], str(straight), "--epochs", "3", "--threads", "1").returncode == 0
    assert_same_run(path, straight)


# ---- generation's count ----------------------------------------------------------------

LOAD_PROBE = """
import sys
import rnnlm
model = rnnlm.load(sys.argv[1], backend=sys.argv[2], batch_size=int(sys.argv[3]))
print(model.backend.num_threads())
"""


@pytest.mark.parametrize("batch_size", [1, 32])
def test_a_loaded_model_computes_with_the_count_its_batch_calls_for(backend, batch_size, tmp_path):
    """`rnnlm predict` loads for batch 1: one thread, where a second one would be woken for every
    small operation; eval's batch 32 takes training's default. Fresh processes: MXNet and
    TensorFlow fix their count when they load."""
    if backend.NAME == "jax":
        pytest.skip("XLA's CPU pool is one thread a core, sized when jax starts: no count can be applied")
    from rnnlm.checkpoints.file import save_checkpoint
    from rnnlm.config import ModelConfig
    from rnnlm.data.corpus import load_corpus
    from rnnlm.model.weights import init_weights

    _, vocab = load_corpus(max_tokens=2000)
    cfg = ModelConfig(len(vocab), 256)
    path = tmp_path / "m.npz"
    save_checkpoint(str(path), cfg, vocab, init_weights(cfg, 0), "float32")
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", LOAD_PROBE, str(path), backend.NAME, str(batch_size)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD_SECONDS,
    )
    assert out.returncode == 0, out.stderr
    work = threads.step_work(batch_size, 256, len(vocab))
    count = int(out.stdout.split()[-1])
    assert count == threads.default_threads(threads.available_cores(), work, SPECS[backend.NAME].split_factor)
    assert count == 1 or batch_size == 32
