"""rnnlm: the d2l.ai concise character-level RNN language model, in PyTorch or MXNet.

This package is framework-neutral: importing it imports neither framework. A backend
module (``rnnlm.backends.torch_impl`` or ``rnnlm.backends.mxnet_impl``) is loaded only
when a model is built. The Python API (``train``, ``load``, ``compare``) is loaded on
first use, so ``import rnnlm`` stays cheap.
"""

__version__ = "0.2.0"
__all__ = ["train", "load", "compare", "study", "UsageError", "ModelConfig", "TrainConfig", "DataConfig",
           "RunOptions"]

_LAZY = {"train": "rnnlm.api", "load": "rnnlm.api", "compare": "rnnlm.api", "study": None,
         "UsageError": "rnnlm.errors", "ModelConfig": "rnnlm.config", "TrainConfig": "rnnlm.config",
         "DataConfig": "rnnlm.config", "RunOptions": "rnnlm.config"}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'rnnlm' has no attribute {name!r}")
    import importlib
    if name == "study":  # a callable package (rnnlm/study/__init__.py)
        return importlib.import_module("rnnlm.study")
    return getattr(importlib.import_module(str(_LAZY[name])), name)
