"""The one compatibility step MXNet 1.9.1 needs on the NumPys and Pythons users have.

MXNet 1.9.1 (the last release) still says `np.bool`, an alias NumPy 1.24 removed and
NumPy 2 defines again (as `np.bool_`). Importing this module sets that alias exactly as
NumPy 2 does, and only where it is missing, before anything imports mxnet; nothing else
about NumPy is touched. (`distutils`, gone in Python 3.12, comes from setuptools, a
dependency of the mxnet extra there.) Import this module instead of `mxnet` wherever
mxnet is first imported: the backend, its file readers, the ps-lite role processes.
"""

import numpy

if "bool" not in vars(numpy):  # (hasattr would warn on NumPy 1.24-1.26)
    numpy.bool = numpy.bool_  # type: ignore[attr-defined,unused-ignore]  # NumPy 2's own definition

import mxnet  # noqa: E402,F401  (imported here, after the alias, for whoever imports this)
