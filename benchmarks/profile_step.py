"""Where one training step's time goes, on one core, for the book's model (rnn 256, batch 32,
35 steps): torch's per-operator profile, and JAX's compiled step taken apart.

    python benchmarks/profile_step.py [--steps 300] [--backends torch,jax]

The process pins itself to one core first (so torch, MKL and XLA's pool all compute on one).
- torch: `torch.profiler` over rnnlm's own `train_step`: self CPU time per operator, grouped
  (matrix products, elementwise and reductions, the rest), against the
  step's wall time; what the operators do not cover is Python and dispatch.
- jax: the same step as rnnlm compiles it (`_train_step`), then its parts compiled alone
  (forward, forward + loss + gradient) and the step's matrix products alone in one jitted
  loop (XLA's GEMM), beside MKL's (torch) on the same shapes: the step minus the products is
  what XLA spends on the rest.
Prints one JSON line per measurement and a table per backend.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

V, H, B, T = 28, 256, 32, 35
# (what, m, k, n, per step) as in roofline.py: the products of one forward + backward
GEMMS = [
    ("h @ W_hh (fwd)", B, H, H, T),
    ("dh @ W_hh (bwd)", B, H, H, T),
    ("dW_hh", H, B * T, H, 1),
    ("output layer", B * T, H, V, 1),
    ("output dW", V, B * T, H, 1),
    ("output dh", B * T, V, H, 1),
]


def pin_one_core():
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    os.environ["OMP_NUM_THREADS"] = "1"
    return core


def batches_for(steps):
    from rnnlm.data.batches import make_batches
    from rnnlm.data.corpus import load_corpus

    corpus, vocab = load_corpus(max_tokens=10000)
    one_epoch = list(make_batches(corpus, B, T, "sequential", np.random.default_rng(0)))
    return [one_epoch[i % len(one_epoch)] for i in range(steps)], len(vocab)


def timed_steps(backend, model, optimizer, batches, sync):
    state = backend.begin_state(model, B)
    start = time.perf_counter()
    for X, Y in batches:
        state = backend.detach_state(state)
        state, loss_sum, _ = backend.train_step(model, optimizer, state, X, Y, 1.0)
    sync(loss_sum)
    return (time.perf_counter() - start) / len(batches)


def rnnlm_model(name, vocab_size):
    from rnnlm.backend import load_backend
    from rnnlm.config import ModelConfig
    from rnnlm.model.weights import init_weights

    backend = load_backend(name)
    cfg = ModelConfig(vocab_size, H)
    model = backend.RNNModel(cfg, backend.resolve_device("cpu"), "float32")
    backend.set_weights(model, init_weights(cfg, 0))
    return backend, model, backend.make_optimizer(model, 1.0), cfg


def mkl_gemm_seconds(m, k, n, reps=2000):
    """One product through torch (MKL), as roofline.py times it; imported late, after the pin."""
    from benchmarks.roofline import gemm_seconds

    return gemm_seconds(m, k, n, reps)


def profile_torch(steps):
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    batches, vocab_size = batches_for(steps)
    backend, model, optimizer, _ = rnnlm_model("torch", vocab_size)
    sync = backend.to_float
    timed_steps(backend, model, optimizer, batches[:30], sync)  # warm-up
    wall = statistics.median(timed_steps(backend, model, optimizer, batches, sync) for _ in range(3))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        profiled = timed_steps(backend, model, optimizer, batches, sync)  # the profiler's own cost included
    groups = {"matrix products": 0.0, "elementwise and reductions": 0.0, "other ops": 0.0}
    top = []
    for e in prof.key_averages():
        us = e.self_cpu_time_total / steps
        top.append((us, e.key, e.count // steps))
        k = e.key
        if k.startswith("Fused") or k.startswith("autograd::") or "Backward" in k:
            continue  # wrappers: their self time is their Python body, the operators inside count apart
        if any(s in k for s in ("mm", "matmul", "linear", "addmm", "bmm", "dot")):
            groups["matrix products"] += us
        elif any(
            s in k
            for s in (
                "add",
                "mul",
                "tanh",
                "sum",
                "pow",
                "sqrt",
                "div",
                "softmax",
                "nll",
                "exp",
                "clamp",
                "sub",
                "norm",
                "where",
                "copy",
                "fill",
                "zero",
                "one_hot",
                "index",
            )
        ):
            groups["elementwise and reductions"] += us
        else:
            groups["other ops"] += us
    mkl = sum(mkl_gemm_seconds(m, k, n) * c for _, m, k, n, c in GEMMS)
    rows = (
        [("step (wall, profiler off)", wall * 1e6), ("step (wall, profiler on)", profiled * 1e6)]
        + list(groups.items())
        + [
            ("Python, dispatch, profiler (profiled wall - ops)", profiled * 1e6 - sum(groups.values())),
            ("the step's GEMMs alone, MKL, measured apart", mkl * 1e6),
        ]
    )
    top.sort(reverse=True)
    print(
        json.dumps(
            {
                "backend": "torch",
                "us_per_step": dict(rows),
                "top_ops": [{"op": k, "us": round(us, 1), "calls": c} for us, k, c in top[:12]],
            }
        )
    )
    return rows, top[:12]


def profile_jax(steps):
    import jax
    import jax.numpy as jnp
    from jax import lax
    from rnnlm.backends import jax_impl

    batches, vocab_size = batches_for(steps)
    backend, model, optimizer, cfg = rnnlm_model("jax", vocab_size)
    sync = lambda x: jax.block_until_ready(x)  # noqa: E731
    timed_steps(backend, model, optimizer, batches[:30], sync)
    step = statistics.median(timed_steps(backend, model, optimizer, batches, sync) for _ in range(3))

    X, Y = (jnp.asarray(a, jnp.int32) for a in batches[0])
    state = backend.begin_state(model, B)
    params = model.params

    def per_call(f, reps=steps):
        jax.block_until_ready(f())  # compile
        start = time.perf_counter()
        for _ in range(reps):
            out = f()
        jax.block_until_ready(out)
        return (time.perf_counter() - start) / reps

    forward = per_call(lambda: jax_impl._forward_jit(params, state, X, cfg=cfg)[0])
    grads = per_call(lambda: jax_impl._loss_and_grads(params, state, X, Y, cfg=cfg)[0])

    def gemms_alone(reps=200):
        """Every product of one step, `reps` steps in one jitted loop, each feeding the next
        (a zero-weighted column) so XLA can hoist none of them."""
        mats = [
            (jax.random.normal(jax.random.PRNGKey(i), (m, k)), jax.random.normal(jax.random.PRNGKey(99 + i), (k, n)), c)
            for i, (_, m, k, n, c) in enumerate(GEMMS)
        ]

        def one_step(_, xs):
            out = []
            for x, (_, b, count) in zip(xs, mats):
                for _ in range(count):
                    x = x + 0.0 * (x @ b)[:, :1]
                out.append(x)
            return tuple(out)

        loop = jax.jit(lambda: lax.fori_loop(0, reps, one_step, tuple(a for a, _, _ in mats)))
        jax.block_until_ready(loop())
        start = time.perf_counter()
        jax.block_until_ready(loop())
        return (time.perf_counter() - start) / reps

    xla = gemms_alone()
    mkl = sum(mkl_gemm_seconds(m, k, n) * c for _, m, k, n, c in GEMMS)
    rows = [
        ("step as rnnlm compiles it (train_step)", step * 1e6),
        ("forward alone", forward * 1e6),
        ("forward + loss + gradient", grads * 1e6),
        ("clip + SGD + dispatch (step - gradient)", (step - grads) * 1e6),
        ("the step's GEMMs alone, XLA, one jitted loop", xla * 1e6),
        ("the same GEMMs, MKL (torch), measured apart", mkl * 1e6),
        ("rest of the XLA step (step - XLA GEMMs)", (step - xla) * 1e6),
    ]
    print(json.dumps({"backend": "jax", "us_per_step": dict(rows)}))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--backends", default="torch,jax")
    args = parser.parse_args()
    core = pin_one_core()
    from benchmarks.machine import cpu_name

    print(f"# {cpu_name()}, pinned to core {core}; microseconds per step of {B * T} tokens", flush=True)
    names = args.backends.split(",")
    if len(names) > 1:  # one process each: one framework's threads never meet the other's
        import subprocess

        for name in names:
            subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--backends", name], check=True)
        return
    if names[0] == "torch":
        rows, top = profile_torch(args.steps)
    else:
        rows, top = profile_jax(args.steps), []
    step_us = rows[0][1]
    print(f"\n| {names[0]}: part | us per step | share of the step | tokens/s it allows |")
    print("| --- | --- | --- | --- |")
    for what, us in rows:
        print(
            f"| {what} | {us:,.0f} | {us / step_us:.0%} | {B * T / (us / 1e6):,.0f} |"
            if us > 0
            else f"| {what} | {us:,.0f} | - | - |"
        )
    if top:
        print("\n| top torch operators (self CPU) | us per step | calls per step |\n| --- | --- | --- |")
        for us, k, c in top:
            print(f"| {k} | {us:,.1f} | {c} |")


if __name__ == "__main__":
    main()
