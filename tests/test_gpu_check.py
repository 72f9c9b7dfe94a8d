"""benchmarks/gpu_check.py from a plain checkout (no install: PYTHONPATH=. as on a GPU
machine without pip): on this CPU-only machine, "no GPU" per part and exit 0; with the CPU
standing in for the GPU, every part runs and agrees with itself."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.backends import requested_backends

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("main_job", "parity_float64", "float32_tf32", "generation", "checkpoint", "nccl_group")


@pytest.fixture(scope="module")
def plain_checkout(tmp_path_factory):
    """The checkout's files alone, in a folder no installation knows."""
    folder = tmp_path_factory.mktemp("checkout")
    for part in ("rnnlm", "backends", "benchmarks"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def gpu_check(folder, *args):
    env = {**os.environ, "PYTHONPATH": str(folder)}
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    *lines, last = proc.stdout.strip().splitlines()
    return lines, json.loads(last)


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
def test_without_a_gpu_says_so_per_part_and_exits_0(plain_checkout):
    names = [n for n in requested_backends()]
    lines, report = gpu_check(plain_checkout, "--backends", ",".join(names))
    assert report["rnnlm_backends"] == str(plain_checkout / "backends")  # this checkout's, mapped
    for name in names:
        if not report[name]["importable"]:
            assert lines.count(f"{name}: not importable ({report[name]['reason']})") == 1
            continue
        if report[name]["main_job"] != "no GPU":
            pytest.skip(f"{name} sees a GPU here")
        for part in PARTS:
            assert report[name][part] == "no GPU"
            assert lines.count(f"{name} {part}: no GPU") == 1, lines
    assert len(lines) == sum(len(PARTS) if report[n]["importable"] else 1 for n in names)


@pytest.mark.slow
def test_every_part_runs_with_the_cpu_standing_in(plain_checkout, backend):
    lines, report = gpu_check(plain_checkout, "--cpu-stand-in", "--backends", backend.NAME)
    result = report[backend.NAME]
    for part in PARTS:
        assert not str(result[part]).startswith(("failed", "skipped")), (part, result[part])
    # the CPU against itself: every difference is exactly zero
    assert result["parity_float64"]["max_abs_diff_weights"] == 0.0
    assert result["float32_tf32"]["tf32_off"]["max_rel_diff_perplexity"] == 0.0
    assert result["checkpoint"]["rel_diff_cpu"] == 0.0 and result["checkpoint"]["weights_round_trip_bitwise"]
    assert result["generation"]["same_text"]
    if backend.NAME == "torch":
        assert result["nccl_group"]["world_size"] == 1 and result["nccl_group"]["all_reduce_sum"] == [1.5, 2.0]
        assert result["nccl_group"]["max_rel_diff_loss_vs_plain"] == 0.0
