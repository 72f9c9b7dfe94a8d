"""The core is framework-neutral: it names no framework and imports none; every backend the
registry declares conforms to its interface."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlm.backend import SPECS, load_backend
from rnnlm.backends import registry
from rnnlm.backends.common import base
from rnnlm.errors import UsageError

CORE = Path(__file__).resolve().parent.parent / "rnnlm"
# every name the registry uses, and how people write the frameworks' names
FRAMEWORK_WORDS = sorted({s.name for s in registry.BACKENDS} | {m for s in registry.BACKENDS for m in s.needs}
                         | {f.name for f in registry.FORMATS} | {m for f in registry.FORMATS for m in f.needs}
                         | {"PyTorch", "MXNet", "Gluon", "ONNX", "JAX", "TensorFlow", "tensorflow"})
WORD = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, FRAMEWORK_WORDS)) + r")(?![\w-])", re.IGNORECASE)


def _docstring_nodes(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                yield body[0].value


def framework_literals(path):
    """(line, text) of each string literal in `path`, docstrings aside, that names a framework."""
    tree = ast.parse(path.read_text(), str(path))
    docs = {id(n) for n in _docstring_nodes(tree)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
            and WORD.search(node.value)]


def test_the_scan_finds_a_framework_name_where_there_is_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Docstrings may say torch."""\nx = "torch"  # comments may say mxnet\n'
                      'y = f"use {name} or MXNet"\nz = "torchrun is an agent"\n')
    assert [line for line, _ in framework_literals(sample)] == [2, 3]


def test_no_string_literal_in_the_core_names_a_framework():
    found = [f"{path.relative_to(CORE.parent)}:{line}: {text!r}"
             for path in sorted(CORE.rglob("*.py")) for line, text in framework_literals(path)]
    assert found == []


def test_importing_every_core_module_loads_no_framework():
    modules = sorted("rnnlm." + ".".join(p.relative_to(CORE).with_suffix("").parts)
                     for p in CORE.rglob("*.py") if p.name != "__main__.py")
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    frameworks = sorted({m for s in registry.BACKENDS for m in s.needs} | {"matplotlib", "tqdm"})
    code = (f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(m for m in {frameworks!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
    assert len(modules) > 30  # the walk found the core's modules


@pytest.mark.parametrize("name", list(SPECS))
def test_every_registered_backend_conforms_to_its_interface(name):
    try:
        module = load_backend(name)
    except UsageError as exc:
        pytest.skip(f"backend {name} unavailable: {exc}")
    assert base.check_conformance(module, SPECS[name].trains) == []
    assert module.NAME == name


def test_the_conformance_check_names_what_is_missing_or_different():
    import types
    fake = types.ModuleType("fake_backend")
    fake.NAME = "fake"
    fake.forward = lambda model, inputs, state: None  # a parameter renamed
    problems = base.check_conformance(fake, trains=True)
    assert "fake_backend has no train_step" in problems
    assert any("fake_backend.forward takes ['model', 'inputs', 'state']" in p for p in problems)
    assert not any("has no forward" in p or "has no NAME" in p for p in problems)


def test_an_inference_only_backend_declares_no_training_members():
    for spec in registry.BACKENDS:
        if spec.trains:
            continue
        try:
            module = load_backend(spec.name)
        except UsageError:
            continue
        training_only = set(base.protocol_members(base.TrainingBackend)) - set(base.protocol_members(base.InferenceBackend))
        assert sorted(n for n in training_only if hasattr(module, n)) == []
