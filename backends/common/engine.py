"""What every engine module shares: how it describes one process of a local group to the
launcher (`rnnlm launch`), which starts and supervises what the engine lists."""

import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List


@dataclass(frozen=True)
class ProcessSpec:
    """One process of a local group, as an engine describes it to the launcher."""

    label: str  # how errors name it: "rank 1", "server 0"
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)  # added to the launcher's environment
    worker: bool = True  # workers train; helpers (scheduler, servers) serve them


def package_root():
    """The folder holding the `rnnlm` package this process imported (site-packages, or a
    clone); imported already, as the package this module belongs to."""
    package = sys.modules["rnnlm"].__file__
    assert package is not None
    return os.path.dirname(os.path.dirname(os.path.abspath(package)))


def python_argv(code, *args):
    """A Python process running `code` that imports this rnnlm, not whatever `rnnlm/` folder
    its working directory holds: `-m rnnlm` and plain `-c` put the working directory first on
    sys.path, so run from a clone's parent every worker would import the wrong folder."""
    pin = f"import sys; sys.path[0] = {package_root()!r}; "
    return [sys.executable, "-c", pin + code, *args]


def rnnlm_argv(args):
    """`rnnlm ARGS` as a process of a group (see `python_argv`)."""
    return python_argv("from rnnlm.cli.main import main; sys.exit(main())", *args)
