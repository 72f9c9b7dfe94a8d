"""rnnlm: the d2l.ai concise character-level RNN language model, in any of its frameworks.

This package is framework-neutral: importing it imports no framework. A backend module
(``rnnlm.backends.torch_impl``, ``rnnlm.backends.mxnet_impl``, ...) is loaded only when a
model is built. The Python API (``train``, ``load``, ``compare``, ``compress``,
``decompress``) is loaded on
first use, so ``import rnnlm`` stays cheap.
"""

import importlib.util as _util
import os as _os
import sys as _sys

__version__ = "0.2.0"


def _clone_backends():
    """Run from a plain clone: installed, `rnnlm.backends` is the top-level backends/ folder
    (setup.cfg maps it); not installed, the package maps it here, from beside itself, so
    `python -m rnnlm` works in a checkout with only the frameworks installed. A `backends`
    folder anywhere else (the user's working folder) is never looked at."""
    here = _os.path.dirname(_os.path.abspath(__file__))
    folder = _os.path.join(_os.path.dirname(here), "backends")
    if (
        "rnnlm.backends" in _sys.modules
        or _os.path.isdir(_os.path.join(here, "backends"))
        or not _os.path.isfile(_os.path.join(folder, "registry.py"))
    ):
        return
    spec = _util.spec_from_file_location(
        "rnnlm.backends", _os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    assert spec is not None and spec.loader is not None
    module = _util.module_from_spec(spec)
    _sys.modules["rnnlm.backends"] = module
    spec.loader.exec_module(module)
    globals()["backends"] = module  # as the import system binds a submodule it loads to its package


_clone_backends()
__all__ = [
    "train",
    "load",
    "compare",
    "compress",
    "decompress",
    "CompressConfig",
    "study",
    "UsageError",
    "ModelConfig",
    "TrainConfig",
    "DataConfig",
    "RunOptions",
]

_LAZY = {
    "train": "rnnlm.api",
    "load": "rnnlm.api",
    "compare": "rnnlm.api",
    "compress": "rnnlm.api",
    "decompress": "rnnlm.api",
    "CompressConfig": "rnnlm.compression.config",
    "study": None,
    "UsageError": "rnnlm.errors",
    "ModelConfig": "rnnlm.config",
    "TrainConfig": "rnnlm.config",
    "DataConfig": "rnnlm.config",
    "RunOptions": "rnnlm.config",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'rnnlm' has no attribute {name!r}")
    import importlib

    if name == "study":  # a callable package (rnnlm/study/__init__.py)
        return importlib.import_module("rnnlm.study")
    return getattr(importlib.import_module(str(_LAZY[name])), name)
