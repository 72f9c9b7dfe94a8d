"""What every engine module shares: how it describes one process of a local group to the
launcher (`rnnlm launch`), which starts and supervises what the engine lists."""

from dataclasses import dataclass, field
from typing import Dict, List


@dataclass(frozen=True)
class ProcessSpec:
    """One process of a local group, as an engine describes it to the launcher."""
    label: str                      # how errors name it: "rank 1", "server 0"
    argv: List[str]
    env: Dict[str, str] = field(default_factory=dict)  # added to the launcher's environment
    worker: bool = True             # workers train; helpers (scheduler, servers) serve them
