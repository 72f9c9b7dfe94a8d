"""Skips for tests that need an optional extra, the pip command in the reason."""

import importlib.util

import pytest


def needs(module, extra):
    """A mark skipping a test where `module` (of pip extra `extra`) is not installed."""
    missing = importlib.util.find_spec(module) is None
    return pytest.mark.skipif(missing, reason=f"needs {module}: pip install -e '.[{extra}]'")


needs_coder = needs("constriction", "compress")  # rnnlm compress's range coder
needs_plot = needs("matplotlib", "plot")  # --plot and `rnnlm plot`
needs_onnx = needs("onnx", "onnx")  # building ONNX graphs to read back
