"""Read by mypy in CI, not collected by pytest: each backend module satisfies the
`Backend` Protocol, and its model the `Model` Protocol the core reads."""

from rnnlm.backend import Backend
from backends import jax_impl, mxnet_impl, onnxruntime_impl, torch_impl  # the source folder; installed as rnnlm.backends

torch_backend: Backend = torch_impl
mxnet_backend: Backend = mxnet_impl
jax_backend: Backend = jax_impl
onnxruntime_backend: Backend = onnxruntime_impl
