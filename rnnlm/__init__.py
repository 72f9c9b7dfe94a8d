"""rnnlm: the d2l.ai concise character-level RNN language model, in PyTorch or MXNet.

This package is framework-neutral: importing it imports neither framework. A backend
module (``rnnlm.backends.torch_impl`` or ``rnnlm.backends.mxnet_impl``) is loaded only when
``rnnlm.backend.load_backend`` is called.
"""

__version__ = "0.1.0"
