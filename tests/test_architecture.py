"""The core is framework-neutral: it names no framework and imports none; every backend the
registry declares conforms to its interface; the package has the shape docs/ARCHITECTURE.md
draws (one naming convention for backends, no import circle, layers that import downward)."""

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
from tests.support.import_graph import cycles, import_graph

CORE = Path(__file__).resolve().parent.parent / "rnnlm"
# every name the registry uses, and how people write the frameworks' names
FRAMEWORK_WORDS = sorted(
    {s.name for s in registry.BACKENDS}
    | {m for s in registry.BACKENDS for m in s.needs}
    | {f.name for f in registry.FORMATS}
    | {m for f in registry.FORMATS for m in f.needs}
    | {"PyTorch", "MXNet", "Gluon", "ONNX", "JAX", "TensorFlow", "tensorflow"}
)
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
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and WORD.search(node.value)
    ]


def test_the_scan_finds_a_framework_name_where_there_is_one(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""Docstrings may say torch."""\nx = "torch"  # comments may say mxnet\n'
        'y = f"use {name} or MXNet"\nz = "torchrun is an agent"\n'
    )
    assert [line for line, _ in framework_literals(sample)] == [2, 3]


def test_no_string_literal_in_the_core_names_a_framework():
    found = [
        f"{path.relative_to(CORE.parent)}:{line}: {text!r}"
        for path in sorted(CORE.rglob("*.py"))
        for line, text in framework_literals(path)
    ]
    assert found == []


def test_importing_every_core_module_loads_no_framework():
    modules = sorted(
        "rnnlm." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__main__.py"
    )
    modules = [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in modules]
    frameworks = sorted({m for s in registry.BACKENDS for m in s.needs} | {"matplotlib", "tqdm"})
    code = (
        f"import sys, importlib\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in {frameworks!r} if m in sys.modules))"
    )
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
        training_only = set(base.protocol_members(base.TrainingBackend)) - set(
            base.protocol_members(base.InferenceBackend)
        )
        assert sorted(n for n in training_only if hasattr(module, n)) == []


# ---- the shape of the package: names, layers, imports ------------------------------------

BACKENDS_DIR = CORE.parent / "backends"
SHARED = {"__init__.py", "registry.py"}  # backends/ itself; backends/common/ is shared code


def convention_problems(folder, specs=registry.BACKENDS):
    """What breaks the naming convention in a backends folder: a file that is not
    `<registered backend>_<role it declares>.py` (shared code aside), a declared role
    without its file, a backend without its `_impl.py`."""
    problems = []
    by_name = {s.name: s for s in specs}
    for path in sorted(folder.glob("*.py")):
        if path.name in SHARED:
            continue
        owner = next((n for n in sorted(by_name, key=len, reverse=True) if path.stem.startswith(n + "_")), None)
        role = path.stem[len(owner) + 1 :] if owner else None
        if owner is None or role not in registry.ROLES:
            problems.append(f"{path.name}: not <backend>_<role>.py (roles: {', '.join(registry.ROLES)})")
        elif by_name[owner].module(role) is None:
            problems.append(f"{path.name}: backend {owner} does not declare the role {role!r}")
    for spec in specs:
        for role in ("impl", *spec.roles):
            if not (folder / f"{spec.module(role)}.py").exists():
                problems.append(f"{spec.name} declares {role!r} but {spec.module(role)}.py is missing")
    return problems


def test_every_backend_file_follows_the_naming_convention():
    assert convention_problems(BACKENDS_DIR) == []
    shared = {p.parent.name for p in BACKENDS_DIR.rglob("*.py") if p.parent != BACKENDS_DIR}
    assert shared == {"common"}  # one shared place, no other subfolder


def test_the_convention_check_names_a_file_that_breaks_it(tmp_path):
    for path in BACKENDS_DIR.glob("*.py"):
        (tmp_path / path.name).write_text("")
    (tmp_path / "torch_helpers.py").write_text("")  # no such role
    (tmp_path / "caffe_impl.py").write_text("")  # no such backend
    (tmp_path / "jax_native.py").write_text("")  # a role jax does not declare
    (tmp_path / "mxnet_engine.py").unlink()  # a declared role without its file
    assert sorted(convention_problems(tmp_path)) == sorted(
        [
            "caffe_impl.py: not <backend>_<role>.py (roles: " + ", ".join(registry.ROLES) + ")",
            "jax_native.py: backend jax does not declare the role 'native'",
            "mxnet declares 'engine' but mxnet_engine.py is missing",
            "torch_helpers.py: not <backend>_<role>.py (roles: " + ", ".join(registry.ROLES) + ")",
        ]
    )


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert len(graph) > 90  # the walk found rnnlm/ and backends/
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# what a backend may import from the core: the NumPy-shaped types, errors and reader limits
BACKEND_MAY_IMPORT = {
    "rnnlm.config",
    "rnnlm.errors",
    "rnnlm.library_errors",
    "rnnlm.io.limits",
    "rnnlm.model.weights",
    "rnnlm.model.names",
}


def test_backends_import_from_the_core_only_its_neutral_types():
    graph = import_graph()
    found = {
        (m, d)
        for m, deps in graph.items()
        if m.startswith("rnnlm.backends")
        for d in deps
        if not d.startswith("rnnlm.backends") and d not in BACKEND_MAY_IMPORT
    }
    assert found == set()
    forbidden = ("rnnlm.training", "rnnlm.distributed", "rnnlm.interop", "rnnlm.cli")
    assert not BACKEND_MAY_IMPORT & {m for m in graph if m.startswith(forbidden)}


def test_the_core_reaches_a_backend_only_through_the_registry():
    graph = import_graph()
    reached = {
        d
        for m, deps in graph.items()
        if not m.startswith("rnnlm.backends")
        for d in deps
        if d.startswith("rnnlm.backends")
    }
    assert reached == {"rnnlm.backends.registry"}


FRAMEWORK_MODULES = {m for s in registry.BACKENDS for m in s.needs} | {m for f in registry.FORMATS for m in f.needs}
IMPORT_NO_FRAMEWORK = ("engine", "format")  # the launcher and `rnnlm import` stay light


def _imported_tops(path):
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    return {n.split(".")[0] for n in names}


def test_engines_formats_the_registry_and_shared_code_import_no_framework():
    light = [BACKENDS_DIR / "registry.py", *(BACKENDS_DIR / "common").glob("*.py")]
    light += [
        BACKENDS_DIR / f"{s.module(role)}.py"
        for s in registry.BACKENDS
        for role in IMPORT_NO_FRAMEWORK
        if s.module(role)
    ]
    heavy = {p.name: _imported_tops(p) & FRAMEWORK_MODULES for p in light}
    assert {name: tops for name, tops in heavy.items() if tops} == {}
    assert len(light) > 8


ARCHITECTURE = CORE.parent / "docs" / "ARCHITECTURE.md"
LAYER_ROW = re.compile(r"^\| (\d+) \| ([^|]+) \|")


def documented_layers():
    """{module or package: layer} from the table in docs/ARCHITECTURE.md."""
    layers = {}
    for line in ARCHITECTURE.read_text().splitlines():
        row = LAYER_ROW.match(line)
        if row:
            for name in re.findall(r"`([\w.]+)`", row.group(2)):
                layers[name] = int(row.group(1))
    return layers


def layer_of(module, layers):
    """The layer of the longest documented name that is `module` or a package above it
    (the bare package `rnnlm` stands for its own __init__ only)."""
    matches = [n for n in layers if module == n or (n != "rnnlm" and module.startswith(n + "."))]
    return layers[max(matches, key=len)] if matches else None


def test_the_architecture_diagram_is_the_import_graph():
    """Every module sits in one documented layer and imports only from its own layer or below."""
    layers, graph = documented_layers(), import_graph()
    assert len(set(layers.values())) >= 6
    assert [m for m in graph if layer_of(m, layers) is None] == []
    upward = [
        f"{m} (layer {layer_of(m, layers)}) imports {d} (layer {layer_of(d, layers)})"
        for m, deps in sorted(graph.items())
        for d in sorted(deps)
        if layer_of(d, layers) > layer_of(m, layers)
    ]
    assert upward == []
