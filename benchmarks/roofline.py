"""How close training is to the machine's limit for this model's shapes.

FLOPs per token of the default model (forward + backward, multiply-adds counted as 2), the
GEMM throughput measured on exactly those shapes in this run (torch's MKL; XLA's
own GEMM beside it when jax is installed, the one rnnlm's JAX backend runs, and TensorFlow's
when it is), the
resulting roofline in tokens/s, and the fraction rnnlm reaches (from bench_train's
default-config median, measured in the same run).

    python benchmarks/roofline.py [--cores 1]

The process (and the training runs it starts) is pinned to the first `--cores` cores, one by
default: the issue's goal is a fraction of the one-thread roofline.
"""

import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rnnlm.threads import available_cores

V, H, B, T = 28, 256, 32, 35  # vocab, hidden, batch, steps: the book's default


def gemm_seconds(m, k, n, reps):
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(20):
        a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return (time.perf_counter() - start) / reps


def xla_gemm_seconds(m, k, n, reps):
    """The same product through XLA's CPU GEMM, `reps` of them inside one jitted loop (as in
    the backend's scan, so no per-call dispatch is timed), or None without jax. Each product
    feeds the next (by a zero-weighted column) so XLA cannot hoist it out of the loop."""
    try:
        import jax
        from jax import lax
    except ImportError:
        return None
    a = jax.random.normal(jax.random.PRNGKey(0), (m, k))
    b = jax.random.normal(jax.random.PRNGKey(1), (k, n))
    loop = jax.jit(lambda a, b: lax.fori_loop(0, reps, lambda i, x: x + 0.0 * (x @ b)[:, :1], a))
    loop(a, b).block_until_ready()  # compile
    start = time.perf_counter()
    loop(a, b).block_until_ready()
    return (time.perf_counter() - start) / reps


def tf_gemm_seconds(m, k, n, reps):
    """The same product through TensorFlow's CPU GEMM (Eigen, no XLA: what rnnlm's TF backend
    runs), `reps` of them inside one tf.function loop, or None without tensorflow."""
    try:
        from rnnlm.backends.tensorflow_runtime import start, tf
    except ImportError:
        return None
    start(available_cores())
    a, b = tf.random.normal((m, k), seed=0), tf.random.normal((k, n), seed=1)

    @tf.function
    def loop(a, b):
        x = a
        for _ in tf.range(reps):
            x = x + 0.0 * tf.matmul(x, b)[:, :1]
        return x

    loop(a, b).numpy()  # trace
    begin = time.perf_counter()
    loop(a, b).numpy()
    return (time.perf_counter() - begin) / reps


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[: max(1, args.cores)]
    os.sched_setaffinity(0, set(cores))  # before XLA makes its pool; inherited by the runs below
    torch.set_num_threads(available_cores())
    from benchmarks.machine import cpu_name

    print(f"# {cpu_name()}, pinned to cores {cores}, {torch.get_num_threads()} torch thread(s)\n")
    N = B * T
    # (what, m, k, n, how many per minibatch); the input projection is a gather (no FLOPs)
    gemms = [
        ("forward h @ W_hh, per step", B, H, H, T),
        ("backward dh @ W_hh, per step", B, H, H, T),
        ("backward dW_hh over all steps", H, N, H, 1),
        ("forward output layer", N, H, V, 1),
        ("backward output dW", V, N, H, 1),
        ("backward output dh", N, V, H, 1),
    ]
    total_flops, total_seconds = 0.0, 0.0
    print(
        "| GEMM | shape | GFLOP/s measured (torch) | GFLOP/s (XLA, in a jitted loop) "
        "| GFLOP/s (TF, in a tf.function loop) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for what, m, k, n, count in gemms:
        reps = 2000 if m * k * n < 1e7 else 300
        sec = gemm_seconds(m, k, n, reps)
        xla = xla_gemm_seconds(m, k, n, reps)
        flops = 2.0 * m * k * n
        total_flops += flops * count
        total_seconds += sec * count
        xla_rate = "-" if xla is None else f"{flops / xla / 1e9:.1f}"
        tf_sec = tf_gemm_seconds(m, k, n, reps)
        tf_rate = "-" if tf_sec is None else f"{flops / tf_sec / 1e9:.1f}"
        print(f"| {what} | {m}x{k} @ {k}x{n} (x{count}) | {flops / sec / 1e9:.1f} | {xla_rate} | {tf_rate} |")
    flops_per_token = total_flops / N
    roofline = N / total_seconds
    print(f"\nFLOPs per token (fwd+bwd, GEMMs only): {flops_per_token / 1e3:.1f} k")
    print(f"roofline (GEMM time only, no elementwise work): {roofline:,.0f} tokens/s")
    here = os.path.dirname(os.path.abspath(__file__))
    for backend in ("torch", "mxnet", "jax", "tensorflow"):
        out = subprocess.run(
            [sys.executable, os.path.join(here, "bench_train.py"), "--backends", backend, "--rounds", "5"],
            capture_output=True,
            text=True,
        )
        rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        if not rows:
            print(f"{backend}: not measured ({out.stderr.strip().splitlines()[-1:]})")
            continue
        r = rows[0]
        print(
            f"{backend}: rnnlm {r['rnnlm']['median']:,.0f} tokens/s = {r['rnnlm']['median'] / roofline:.0%} "
            f"of the roofline; book-style {r['book']['median']:,.0f} = {r['book']['median'] / roofline:.0%}"
        )


if __name__ == "__main__":
    main()
