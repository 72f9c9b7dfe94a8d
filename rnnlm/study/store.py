"""Where a study keeps its finished runs: one JSON file per grid point, written atomically
the moment the run ends, so an interrupted study resumes where it stopped and a rerun of a
finished one reads everything back.

    DIR/NAME.runs/<key>.json   {"config": {...}, "result": {...}}
    key = the first 16 hex digits of sha256(the config as canonical JSON)

A stored file is reused only when it parses and holds exactly the config asked for; anything
else (a truncated or foreign file) is run again and replaced.
"""

import hashlib
import json
import os

from rnnlm.io.outputs import atomic_write


def canonical(config):
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def run_key(config):
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, out_dir, study_name):
        self.folder = os.path.join(out_dir, f"{study_name}.runs")

    def path(self, config):
        return os.path.join(self.folder, f"{run_key(config)}.json")

    def load(self, config):
        """The stored result of `config`, or None."""
        try:
            with open(self.path(config), "rb") as f:
                stored = json.loads(f.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(stored, dict) or canonical(stored.get("config")) != canonical(config):
            return None
        return stored.get("result") if isinstance(stored.get("result"), dict) else None

    def save(self, config, result):
        os.makedirs(self.folder, exist_ok=True)
        data = (json.dumps({"config": config, "result": result}, indent=1) + "\n").encode()
        atomic_write(self.path(config), lambda f: f.write(data))
