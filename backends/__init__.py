"""Framework backends of rnnlm. Each module here imports its framework; nothing else does.

`torch_impl` and `mxnet_impl` mirror each other name for name (see `rnnlm.backend.Backend`).
"""
