"""The study models' backend modules: `rnnlm.backends.NAME_study_models` for training
backend NAME (a new framework adds one such file; nothing here names a framework)."""

import importlib

from rnnlm.backend import check_name
from rnnlm.errors import UsageError


def load_study_backend(name):
    check_name(name, training=True)
    try:
        return importlib.import_module(f"rnnlm.backends.{name}_study_models")
    except ModuleNotFoundError as exc:
        raise UsageError(f"backend '{name}' has no study models ({exc.name} is missing)") from None
