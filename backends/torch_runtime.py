"""What PyTorch needs when it loads, and its one process-wide switch here: the thread count.

libgomp reads OMP_WAIT_POLICY once, when the first library that uses it loads, so torch is
imported inside `framework_environment` (passive waiting). The run's count is handed over
by `load` (rnnlm.backend.load_backend) and can change later: torch follows
`torch.set_num_threads` at any time.
"""

from typing import Any, Optional

from .common.runtime import framework_environment, keep_freed_memory

with framework_environment():  # passive OpenMP waiting, read when libgomp loads
    import torch

keep_freed_memory()  # the fused kernels' step buffers stay mapped between steps


def load(threads: Optional[int] = None) -> Any:
    """torch, computing with `threads` threads (None: as it is)."""
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch
