"""JAX's process-wide switches and state, in one place.

- x64: JAX computes in 32 bits unless its process-wide x64 switch is on, and its scoped
  switch (`jax.experimental.enable_x64`) is documented as unreliable under `jit`. So
  `dtype("float64")` turns the switch on the first time a float64 model (or array) is asked
  for, and it stays on. That is safe for the backend's float32 models, built before or after:
  every array is created with an explicit dtype and every Python number enters as a
  weak-typed scalar, so float32 computes exactly as before (tests/test_jax.py checks it bit
  for bit). Other JAX code in the same process does see 64-bit defaults from then on -- the
  price of float64 in JAX; a process that never builds a float64 model is untouched.
- threads: XLA sizes its CPU thread pool (one thread a core) when its CPU backend starts and
  never changes it, so `load` cannot apply a count; `pool_threads` is what it computes with.
- the worker group: jax.distributed joins once per process (`GROUP.joined`).
- `TRACES`: how often each compiled function was traced (the tests check it compiles once);
  `LAST_DISPATCHED`: the newest dispatched result, which `synchronize` waits for.
"""

import collections
import os
from typing import Any, Dict, List, Optional

import jax
import jax.numpy as jnp

TRACES: Dict[str, int] = collections.Counter()
LAST_DISPATCHED: List[Any] = []


class _Group:
    joined = False


GROUP = _Group()


def load(threads: Optional[int] = None) -> Any:
    """jax; `threads` cannot act (XLA's pool is fixed: see `pool_threads`)."""
    del threads
    return jax


def pool_threads() -> int:
    """XLA's CPU pool: one thread a core this process may run on, sized when jax started."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def dtype(name: str) -> Any:
    """The JAX dtype of `name`; float64 turns on x64 for good (see above)."""
    if name == "float64" and not jax.config.read("jax_enable_x64"):
        jax.config.update("jax_enable_x64", True)
    return jnp.dtype(name)
