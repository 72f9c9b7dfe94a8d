"""What MXNet 1.9.1 needs before it loads, on the NumPys, Pythons and processes users have.

MXNet 1.9.1 (the last release) still says `np.bool`, an alias NumPy 1.24 removed and
NumPy 2 defines again (as `np.bool_`). Importing this module sets that alias exactly as
NumPy 2 does, and only where it is missing, before anything imports mxnet; nothing else
about NumPy is touched. (`distutils`, gone in Python 3.12, comes from setuptools, a
dependency of the mxnet extra there.) Import this module instead of `mxnet` wherever
mxnet is first imported: the backend, its file readers, the ps-lite role processes.

It also fixes the thread count MXNet's operators compute with, which MXNet reads once,
when it loads. Where that count came from used to depend on what had loaded first: torch
and MXNet share one libgomp.so.1 (the same soname), which reads OMP_NUM_THREADS once, when
the first of them loads it, so in a process that had imported torch MXNet computed with
another count, and other bits. MXNET_OMP_MAX_THREADS is read by MXNet itself, and with
OMP_NUM_THREADS absent its engine's workers set their own OpenMP count to it: the count
rnnlm planned (`rnnlm.training.threads.plan`), whatever loaded first.
"""

import numpy

from rnnlm.training import threads

if "bool" not in vars(numpy):  # (hasattr would warn on NumPy 1.24-1.26)
    numpy.bool = numpy.bool_  # type: ignore[attr-defined,unused-ignore]  # NumPy 2's own definition

LOADED_THREADS = threads.planned()
with threads.framework_environment(MXNET_OMP_MAX_THREADS=str(LOADED_THREADS), OMP_NUM_THREADS=None):
    import mxnet  # noqa: E402,F401  (imported here, after the alias, for whoever imports this)
    mxnet.nd.zeros((1,)).wait_to_read()  # the engine and its OpenMP settings start here
