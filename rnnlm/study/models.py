"""The study models' backend modules: the registry's `study_models` of each training backend
(a new framework adds one such file and names it there; nothing here names a framework)."""

from rnnlm.backend import SPECS, check_name, study_models_module


def load_study_backend(name):
    check_name(name, training=True)
    return study_models_module(SPECS[name])
