"""Which backends a test run covers: RNNLM_TEST_BACKENDS, else every registered one; a
backend that is not selected or not installed is skipped with its reason."""

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
        raise pytest.UsageError(f"RNNLM_TEST_BACKENDS names unknown backend(s) {unknown}; choose from {known}")
    return [n for n in names if inference or n in BACKENDS]


def load_or_skip(name):
    if name not in requested_backends(inference=True):
        pytest.skip(f"backend {name} not selected by RNNLM_TEST_BACKENDS")
    try:
        return load_backend(name)
    except UsageError as exc:
        pytest.skip(f"backend {name} unavailable: {exc}")
