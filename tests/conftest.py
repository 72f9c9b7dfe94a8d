"""Backend fixtures: parametrized over the installed backends, each skipped with a reason.

RNNLM_TEST_BACKENDS=torch (or "torch,mxnet,onnxruntime") restricts the run; the `backend`
fixtures cover the training backends, onnxruntime is asked for by name; an unknown name stops
the session loudly rather than silently testing nothing.
"""

import os

import pytest

from rnnlm.backend import BACKENDS, INFERENCE_BACKENDS, load_backend
from rnnlm.errors import UsageError


def requested_backends(inference=False):
    """The requested training backends (with `inference`, the inference-only ones too)."""
    raw = os.environ.get("RNNLM_TEST_BACKENDS", "")
    known = list(BACKENDS + INFERENCE_BACKENDS)
    names = [n.strip() for n in raw.split(",") if n.strip()] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise pytest.UsageError(f"RNNLM_TEST_BACKENDS names unknown backend(s) {unknown}; "
                                f"choose from {known}")
    return [n for n in names if inference or n in BACKENDS]


def pytest_configure(config):
    requested_backends()  # an unknown name stops the session before any test runs


def load_or_skip(name):
    if name not in requested_backends(inference=True):
        pytest.skip(f"backend {name} not selected by RNNLM_TEST_BACKENDS")
    try:
        return load_backend(name)
    except UsageError as exc:
        pytest.skip(f"backend {name} unavailable: {exc}")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each installed backend module in turn."""
    return load_or_skip(request.param)


# parity pairs: the first backend (torch) against each of the others
PAIRS = [(BACKENDS[0], other) for other in BACKENDS[1:]]


@pytest.fixture(params=PAIRS, ids=["-".join(p) for p in PAIRS])
def both_backends(request):
    """(torch_impl, other_impl) for each other training backend, for parity tests; each
    pair skipped unless both are installed."""
    return tuple(load_or_skip(name) for name in request.param)


@pytest.fixture
def compared_backends():
    """The backends `compare` trains (torch and mxnet); skipped unless both are installed."""
    from rnnlm.api import COMPARED
    return tuple(load_or_skip(name) for name in COMPARED)
