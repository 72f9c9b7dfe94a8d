"""TensorFlow's process-wide state, held in one place: what must be set before TensorFlow is
imported, and what it fixes when its runtime starts.

- Before the import: TensorFlow's C++ log level (its start-up banners are not rnnlm's
  output; a user's TF_CPP_MIN_LOG_LEVEL wins) and oneDNN's graph rewrites off
  (TF_ENABLE_ONEDNN_OPTS=0, unless the user set it): with them TensorFlow warns that
  results may differ by round-off from run to run of its fused kernels, and Eigen's own
  kernels are what the float64 parity was measured on.
- When the runtime starts (its first operation, or a variable): the sizes of its two
  thread pools, which it reads once and never again (`tf.config.threading` refuses a change
  afterwards). Intra-op threads split one operation (a matrix product's rows): their count
  decides how sums are split, hence the last bits, so it is part of a run's identity, as
  the other backends' counts are. Inter-op threads run independent operations at once; one
  is enough for a chain of small products and changes no bits.
- Op determinism (`tf.config.experimental.enable_op_determinism`), on for good: the same
  command gives the same bits, and an operation with no deterministic kernel raises rather
  than drifting.

So the backend starts the runtime itself, once, at the first moment it needs it: with the
count the backend was loaded with (`load(threads)`: rnnlm.backend.load_backend hands every
backend the run's count, rnnlm's one thread decision, `rnnlm.threads`), or the count a run
asks for first (`set_num_threads`, before its first minibatch). Imported without the loader,
it takes OMP_NUM_THREADS if that is a count, else one thread.
"""

import os
from typing import Optional

_BEFORE_IMPORT = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
for _name, _value in _BEFORE_IMPORT.items():
    os.environ.setdefault(_name, _value)

import tensorflow as tf  # noqa: E402

_started: list = []  # [intra-op count] once the runtime has started
_loaded_with: list = []  # [the count rnnlm.backend.load_backend handed over], if it did


def load(threads: Optional[int] = None):
    """tensorflow, to start (lazily) with `threads` intra-op threads (None: as planned)."""
    if threads is not None:
        _loaded_with[:] = [int(threads)]
    return tf


def started() -> Optional[int]:
    """The intra-op count the runtime started with; None before it starts."""
    return _started[0] if _started else None


def planned_count() -> int:
    """The count this backend was loaded with (rnnlm's one thread decision), else
    OMP_NUM_THREADS if it is a count, else one."""
    if _loaded_with:
        return _loaded_with[0]
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else 1


def start(count: Optional[int] = None) -> int:
    """Size the pools and turn determinism on, once; returns the intra-op count in use.

    A later call (another count) changes nothing: TensorFlow has fixed its pools."""
    if _started:
        return _started[0]
    count = planned_count() if count is None else int(count)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # something else in this process started TensorFlow first
        count = tf.config.threading.get_intra_op_parallelism_threads() or (os.cpu_count() or 1)
    tf.config.experimental.enable_op_determinism()
    _started.append(count)
    return count


def environment() -> dict:
    """What `rnnlm doctor` shows of this state."""
    return {
        "intra_op_threads": started(),
        "inter_op_threads": 1 if _started else None,
        "op_determinism": bool(_started),
        **{name: os.environ.get(name) for name in _BEFORE_IMPORT},
    }
