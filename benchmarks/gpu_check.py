"""One command that checks rnnlm on a GPU, in under 8 minutes, and prints one JSON line.

    PYTHONPATH=. python benchmarks/gpu_check.py [--budget 420]

For every training backend that imports here, each part below, one status line per part,
then the JSON line with every figure:
  main_job        the book's 500-epoch run on the GPU; its tokens/s beside the CPU's
  parity_float64  GPU against CPU, same initial weights and batches, 40 epochs (TF32 off,
                  deterministic cuDNN): per-epoch perplexities and final weights
  float32_tf32    the same in float32, TF32 on and off, against the CPU's float32 run
  generation      greedy characters/s, GPU and CPU, the same checkpoint
  checkpoint      the GPU-trained checkpoint evaluated on the CPU, and back on the GPU
  nccl_group      a one-process NCCL group (torch): DDP steps equal plain ones
A machine without a GPU prints "no GPU" for each part and exits 0. It runs from a plain
checkout with no pip (a Python that already has torch): `import rnnlm` maps the checkout's
backends/ itself when rnnlm is not installed.
"""

import argparse
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rnnlm  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.backend import BACKENDS, build_model, load_backend  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.data.batches import make_batches  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.config import ModelConfig  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.data.corpus import load_corpus  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.errors import UsageError  # noqa: E402  (after the checkout is on sys.path)
from rnnlm.model.weights import init_weights  # noqa: E402  (after the checkout is on sys.path)

PARTS = ("main_job", "parity_float64", "float32_tf32", "generation", "checkpoint", "nccl_group")
NO_GPU = "no GPU"
# the GPU's device spec and the epochs of each part; --cpu-stand-in shrinks both (tests)
RUN = {"gpu": "gpu", "main_epochs": 500, "cpu_timed_epochs": 20, "parity_epochs": 40}


def has_gpu(backend):
    if RUN["gpu"] == "cpu":
        return True
    return backend.device_name(backend.try_gpu()) != backend.device_name(backend.resolve_device("cpu"))


@contextlib.contextmanager
def torch_precision(backend, tf32):
    """TF32 on or off, cuDNN deterministic: torch's switches (other engines have none)."""
    if backend.NAME != "torch":
        yield
        return
    import torch

    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        ) = saved


def train(backend, device, epochs, dtype="float32", tf32=False):
    with torch_precision(backend, tf32):
        start = time.perf_counter()
        run = rnnlm.train(backend=backend.NAME, device=device, epochs=epochs, dtype=dtype, quiet=True)
        return run, time.perf_counter() - start


def differences(a, b):
    """Max relative difference of the per-epoch perplexities, max absolute of the weights."""
    pa = np.array([s.perplexity for s in a.history])
    pb = np.array([s.perplexity for s in b.history])
    wa, wb = a.model.weights(), b.model.weights()
    return {
        "max_rel_diff_perplexity": float(np.max(np.abs(pa - pb) / np.abs(pb))),
        "max_abs_diff_weights": float(max(np.max(np.abs(wa[k].astype(np.float64) - wb[k])) for k in wa)),
        "final_perplexity": [float(pa[-1]), float(pb[-1])],
    }


def main_job(backend, state):
    gpu, gpu_s = train(backend, RUN["gpu"], RUN["main_epochs"])
    cpu, cpu_s = train(backend, "cpu", RUN["cpu_timed_epochs"])
    state["gpu_run"] = gpu
    return {
        "epochs": RUN["main_epochs"],
        "perplexity": gpu.perplexity,
        "gpu_tokens_per_sec": gpu.metrics["tokens_per_sec"],
        "gpu_seconds": round(gpu_s, 1),
        "device": gpu.metrics["device"],
        "cpu_tokens_per_sec": cpu.metrics["tokens_per_sec"],
        "cpu_epochs_timed": RUN["cpu_timed_epochs"],
        "prediction": gpu.model.predict("time traveller"),
    }


def parity_float64(backend, state):
    gpu, _ = train(backend, RUN["gpu"], RUN["parity_epochs"], "float64", tf32=False)
    cpu, _ = train(backend, "cpu", RUN["parity_epochs"], "float64")
    return {"epochs": RUN["parity_epochs"], **differences(gpu, cpu)}


def float32_tf32(backend, state):
    cpu, _ = train(backend, "cpu", RUN["parity_epochs"], "float32")
    out = {}
    for tf32 in (False, True):
        gpu, _ = train(backend, RUN["gpu"], RUN["parity_epochs"], "float32", tf32=tf32)
        out["tf32_on" if tf32 else "tf32_off"] = differences(gpu, cpu)
    return {"epochs": RUN["parity_epochs"], **out}


def _chars_per_sec(model, num_chars=500):
    model.predict("time traveller", num_chars=10)  # warm-up
    start = time.perf_counter()
    text = model.predict("time traveller", num_chars=num_chars)
    return num_chars / (time.perf_counter() - start), text


def _checkpoint(state, folder):
    path = os.path.join(folder, "gpu.npz")
    state.setdefault("gpu_run", None)
    if state["gpu_run"] is None:
        state["gpu_run"] = rnnlm.train(
            backend=state["name"], device=RUN["gpu"], epochs=RUN["cpu_timed_epochs"], quiet=True
        )
    state["gpu_run"].model.save(path)
    return path


def generation(backend, state):
    with tempfile.TemporaryDirectory() as folder:
        path = _checkpoint(state, folder)
        gpu_speed, gpu_text = _chars_per_sec(rnnlm.load(path, backend=backend.NAME, device=RUN["gpu"]))
        cpu_speed, cpu_text = _chars_per_sec(rnnlm.load(path, backend=backend.NAME, device="cpu"))
    return {
        "gpu_chars_per_sec": round(gpu_speed, 1),
        "cpu_chars_per_sec": round(cpu_speed, 1),
        "same_text": gpu_text == cpu_text,
    }


def checkpoint(backend, state):
    with tempfile.TemporaryDirectory() as folder:
        path = _checkpoint(state, folder)
        trained = state["gpu_run"].model.evaluate()
        on_cpu = rnnlm.load(path, backend=backend.NAME, device="cpu")
        cpu_path = os.path.join(folder, "cpu.npz")
        on_cpu.save(cpu_path)
        back = rnnlm.load(cpu_path, backend=backend.NAME, device=RUN["gpu"])
        ppl_cpu, ppl_back = on_cpu.evaluate(), back.evaluate()
        same = all(np.array_equal(a, b) for a, b in zip(on_cpu.weights().values(), back.weights().values()))
    return {
        "gpu_perplexity": trained,
        "cpu_perplexity": ppl_cpu,
        "back_on_gpu_perplexity": ppl_back,
        "rel_diff_cpu": abs(ppl_cpu - trained) / trained,
        "weights_round_trip_bitwise": same,
    }


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nccl_group(backend, state):
    if backend.NAME != "torch":
        return "not applicable: NCCL is torch's (MXNet groups are ps-lite's)"
    corpus, vocab = load_corpus(max_tokens=10000)
    cfg = ModelConfig(len(vocab), 256)
    weights = init_weights(cfg, 0)
    losses = {}
    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")}
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    try:
        for grouped in (False, True):
            model = build_model(backend, cfg, backend.resolve_device(RUN["gpu"]), "float32", weights)
            if grouped:
                rank, world = backend.init_distributed(model)
                sums = backend.all_reduce_sum(model, [1.5, 2.0])
            optimizer = backend.make_optimizer(model, 1.0)
            state_ = None
            out = []
            for X, Y in make_batches(corpus, 32, 35, "sequential", np.random.default_rng(0)):
                if state_ is None:
                    state_ = backend.begin_state(model, X.shape[0])
                state_, loss, _ = backend.train_step(model, optimizer, backend.detach_state(state_), X, Y, 1.0)
                out.append(backend.to_float(loss))
            losses[grouped] = np.array(out)
            if grouped:
                backend.finish_distributed(model)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "rank": rank,
        "world_size": world,
        "all_reduce_sum": sums,
        "max_rel_diff_loss_vs_plain": float(np.max(np.abs(losses[True] - losses[False]) / losses[False])),
    }


def check_backend(name, deadline, say):
    try:
        backend = load_backend(name)
    except UsageError as exc:
        say(f"{name}: not importable ({exc})")
        return {"importable": False, "reason": str(exc)}
    result = {"importable": True, "version": backend.framework_version()}
    gpu = has_gpu(backend)
    state = {"name": name}
    for part in PARTS:
        if not gpu:
            result[part] = NO_GPU
        elif time.monotonic() > deadline:
            result[part] = "skipped: the time budget is spent"
        else:
            start = time.monotonic()
            try:
                result[part] = globals()[part](backend, state)
            except Exception as exc:  # one part failing must not hide the others' figures
                result[part] = f"failed: {type(exc).__name__}: {exc}"
            if isinstance(result[part], dict):
                result[part]["seconds"] = round(time.monotonic() - start, 1)
        shown = result[part] if isinstance(result[part], str) else f"done in {result[part]['seconds']} s"
        say(f"{name} {part}: {shown}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=float, default=420.0, help="seconds after which the parts not yet started are skipped"
    )
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated training backends to check (default: all)"
    )
    parser.add_argument(
        "--cpu-stand-in",
        action="store_true",
        help="run every part with the CPU as the 'GPU' and a few epochs: a test of this script, not of a GPU",
    )
    args = parser.parse_args(argv)
    if args.cpu_stand_in:
        RUN.update(gpu="cpu", main_epochs=2, cpu_timed_epochs=1, parity_epochs=2)
    deadline = time.monotonic() + args.budget

    def say(line):
        print(line, flush=True)

    report = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "cpu_stand_in": args.cpu_stand_in,
        "rnnlm_backends": str(Path(sys.modules["rnnlm.backends"].__file__).parent),
    }
    for name in [n.strip() for n in args.backends.split(",") if n.strip()]:
        if name not in BACKENDS:
            parser.error(f"unknown training backend {name!r} (choose from {', '.join(BACKENDS)})")
        report[name] = check_backend(name, deadline, say)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
