"""What MXNet 1.9.1 needs before it loads, on the NumPys, Pythons and processes users have,
and the one process-wide fact it fixes then: the thread count its operators compute with.

MXNet 1.9.1 (the last release) still says `np.bool`, an alias NumPy 1.24 removed and
NumPy 2 defines again (as `np.bool_`). `load` sets that alias exactly as NumPy 2 does, and
only where it is missing, before mxnet is imported; nothing else about NumPy is touched.
(`distutils`, gone in Python 3.12, comes from setuptools, a dependency of the mxnet extra
there.) Everything that imports mxnet calls `load()` first: the backend, its study models,
the ps-lite role processes, the tests' book models.

MXNet reads its operators' thread count once, when it loads. torch and MXNet share one
libgomp.so.1 (the same soname), which reads OMP_NUM_THREADS once, when the first of them
loads it, so in a process that had imported torch MXNet used to compute with another count,
and other bits. MXNET_OMP_MAX_THREADS is read by MXNet itself, and with OMP_NUM_THREADS
absent its engine's workers set their own OpenMP count to it: the count `load` is handed
(rnnlm.backend.load_backend passes the run's), whatever loaded first. A later `load` with
another count cannot change it; `LOADED_THREADS` says what the operators compute with.
"""

import os
from typing import Any, Optional

import numpy

from .common.runtime import framework_environment

LOADED_THREADS: Optional[int] = None  # the operators' count, fixed by the first load


def load(threads: Optional[int] = None) -> Any:
    """mxnet, loaded the first time with `threads` operator threads (None: OMP_NUM_THREADS
    if it is a count, else one)."""
    global LOADED_THREADS
    if LOADED_THREADS is None:
        if "bool" not in vars(numpy):  # (hasattr would warn on NumPy 1.24-1.26)
            numpy.bool = numpy.bool_  # type: ignore[attr-defined,unused-ignore]  # NumPy 2's own definition
        count = threads or _env_count()
        with framework_environment(MXNET_OMP_MAX_THREADS=str(count), OMP_NUM_THREADS=None):
            import mxnet

            mxnet.nd.zeros((1,)).wait_to_read()  # the engine and its OpenMP settings start here
        LOADED_THREADS = count
    import mxnet

    return mxnet


def _env_count() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1
