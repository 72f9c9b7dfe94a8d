"""`import rnnlm` (and its CLI modules) over a bare interpreter: best of 10 fresh processes.

python benchmarks/bench_import.py
"""

import subprocess
import sys
import time


def best_seconds(code, runs=10):
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    bare = best_seconds("pass")
    full = best_seconds("import rnnlm, rnnlm.cli.main")
    print(f"bare interpreter {bare:.3f} s; import rnnlm + CLI {full:.3f} s; cost {full - bare:.3f} s (target <= 0.2 s)")


if __name__ == "__main__":
    main()
