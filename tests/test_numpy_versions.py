"""NumPy 1.26 and NumPy 2 compute the same bits in the core.

NumPy 2 changed scalar promotion (NEP 50): `np.float32(x) * 0.5` stays float32 where 1.x
gave float64. tests/support/numpy_probe.py writes what the core computes under one interpreter;
run under another interpreter holding the other NumPy major (RNNLM_OTHER_NUMPY_PYTHON, set
by .ci/run), the two must agree. Under NumPy 1.x, NumPy's own NEP 50 warnings also run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROBE = Path(__file__).parent / "support" / "numpy_probe.py"
OTHER = "RNNLM_OTHER_NUMPY_PYTHON"


def run_probe(python, out, extra_env=None):
    env = dict(os.environ, **(extra_env or {}))
    proc = subprocess.run([python, str(PROBE), str(out)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(np.load(out, allow_pickle=False))


def test_core_computes_the_same_bits_under_numpy_1_and_2(tmp_path):
    other = os.environ.get(OTHER)
    if not other:
        pytest.skip(
            f"{OTHER} is not set: no interpreter with the other NumPy to compare with "
            "(.ci/run sets it on its NumPy 2 leg)"
        )
    here = run_probe(sys.executable, tmp_path / "here.npz")
    there = run_probe(other, tmp_path / "there.npz")
    majors = {str(here["numpy_version"])[0], str(there["numpy_version"])[0]}
    assert majors == {"1", "2"}, f"{OTHER} must hold the other NumPy major; got {majors}"
    assert set(here) == set(there)
    for key in here:
        if key.startswith(("init/", "batches/", "meta")):
            assert here[key].dtype == there[key].dtype and np.array_equal(here[key], there[key]), key
        elif key.startswith("trained/"):
            assert here[key].dtype == there[key].dtype == np.float64, key
            assert np.max(np.abs(here[key] - there[key])) <= 1e-12, key
        elif key in ("perplexities", "eval"):
            np.testing.assert_allclose(here[key], there[key], rtol=1e-12, atol=0, err_msg=key)
    assert json.loads(str(here["meta"]))["model"] == json.loads(str(there["meta"]))["model"]


@pytest.mark.slow  # the fast tier stays within minutes; CI runs the slow tier too
@pytest.mark.skipif(
    int(np.__version__.split(".")[0]) >= 2 or not hasattr(np, "_set_promotion_state"),
    reason="NumPy's NEP 50 warnings exist only in NumPy 1.24-1.26",
)
def test_no_result_changes_under_nep50_promotion(tmp_path):
    """NumPy 1.26 under NEP 50's rules, warning as errors wherever a dtype would change."""
    plain = run_probe(sys.executable, tmp_path / "plain.npz")
    weak = run_probe(sys.executable, tmp_path / "weak.npz", {"RNNLM_PROBE_NEP50": "1"})
    for key in plain:
        if key != "numpy_version":
            assert np.array_equal(plain[key], weak[key]), key
