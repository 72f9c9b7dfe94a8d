"""Backend fixtures: parametrized over the installed backends, each skipped with a reason.

RNNLM_TEST_BACKENDS=torch (or "torch,mxnet") restricts the run; an unknown name stops
the session loudly rather than silently testing nothing.
"""

import os

import pytest

from rnnlm.backend import BACKENDS, load_backend
from rnnlm.errors import UsageError


def requested_backends():
    raw = os.environ.get("RNNLM_TEST_BACKENDS", "")
    names = [n.strip() for n in raw.split(",") if n.strip()] or list(BACKENDS)
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise pytest.UsageError(f"RNNLM_TEST_BACKENDS names unknown backend(s) {unknown}; "
                                f"choose from {list(BACKENDS)}")
    return names


def pytest_configure(config):
    requested_backends()  # an unknown name stops the session before any test runs


def load_or_skip(name):
    if name not in requested_backends():
        pytest.skip(f"backend {name} not selected by RNNLM_TEST_BACKENDS")
    try:
        return load_backend(name)
    except UsageError as exc:
        pytest.skip(f"backend {name} unavailable: {exc}")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each installed backend module in turn."""
    return load_or_skip(request.param)


@pytest.fixture
def both_backends():
    """(torch_impl, mxnet_impl), for parity tests; skipped unless both are installed."""
    return tuple(load_or_skip(name) for name in BACKENDS)
