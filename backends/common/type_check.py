"""Read by mypy, never imported: every backend module satisfies its Protocol in
`rnnlm.backends.common.base` (a training backend the training one, the others the inference one).
A backend added to the registry adds its line here."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .. import jax_impl, mxnet_impl, onnxruntime_impl, tensorflow_impl, torch_impl
    from .base import InferenceBackend, TrainingBackend

    torch_backend: TrainingBackend = torch_impl
    mxnet_backend: TrainingBackend = mxnet_impl
    jax_backend: TrainingBackend = jax_impl
    tensorflow_backend: TrainingBackend = tensorflow_impl
    onnxruntime_backend: InferenceBackend = onnxruntime_impl
