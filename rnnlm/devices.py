"""Whether this machine visibly has a GPU, asked before any framework loads: `--device gpu`
on a machine with none is refused at once, not after the corpus and a framework's import.
The backend's own check (`resolve_device`) stays the final word: a device node is no
promise that a framework can use the GPU behind it."""

import glob
import sys

from rnnlm.errors import UsageError

# the device nodes of NVIDIA's driver, AMD's ROCm (kfd) and WSL2's GPU paravirtualization (dxg)
GPU_NODES = ("/dev/nvidia*", "/dev/kfd", "/dev/dxg")


def visibly_without_gpu(platform=None):
    """True only where the answer is sure: on Linux, with none of the GPU device nodes."""
    platform = sys.platform if platform is None else platform
    return platform.startswith("linux") and not any(glob.glob(pattern) for pattern in GPU_NODES)


def check_device(spec):
    """A UsageError for --device gpu on a machine that visibly has no GPU; else nothing."""
    if spec == "gpu" and visibly_without_gpu():
        raise UsageError(
            "--device gpu: this machine has no GPU (no /dev/nvidia*, /dev/kfd or /dev/dxg); use --device cpu or auto"
        )
