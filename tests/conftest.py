"""Backend fixtures, parametrized over the registry (rnnlm.backends.registry), so a new
backend is tested by every test that takes one; each is skipped with a visible reason when
its framework is missing.

RNNLM_TEST_BACKENDS=torch (or "torch,mxnet,onnxruntime") restricts the run; `backend` covers
the training backends, `backend_pair` each training backend against the first one, and an
inference-only backend is asked for by name; an unknown name stops the session loudly rather
than silently testing nothing.
"""

import pytest

from rnnlm.backend import BACKENDS, load_backend
from rnnlm.errors import UsageError
from tests.support.backends import load_or_skip, requested_backends


def pytest_configure(config):
    requested_backends()  # an unknown name stops the session before any test runs


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each installed backend module in turn."""
    return load_or_skip(request.param)


# parity: every training backend against the first (the reference), one test id per pair
PAIRS = [(BACKENDS[0], other) for other in BACKENDS[1:]]


@pytest.fixture(params=PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def backend_pair(request):
    """(reference, other) backend modules, for parity tests; skipped unless both are installed."""
    return tuple(load_or_skip(name) for name in request.param)


@pytest.fixture(scope="session")
def any_backend():
    """The name of one installed training backend (the first requested that imports), for
    tests of what every backend shares; skipped with the reason when none is installed."""
    for name in requested_backends():
        try:
            load_backend(name)
        except UsageError:
            continue
        return name
    pytest.skip(f"needs a training backend; none of {', '.join(requested_backends())} is installed")


@pytest.fixture
def training_backends():
    """Every requested training backend that is installed (skipped when fewer than two)."""
    found = []
    for name in requested_backends():
        try:
            found.append(load_backend(name))
        except UsageError:
            continue
    if len(found) < 2:
        pytest.skip(f"needs two training backends, found {[b.NAME for b in found]}")
    return tuple(found)
