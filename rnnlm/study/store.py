"""Where a study keeps its finished runs: one JSON file per grid point, written atomically
the moment the run ends, so an interrupted study resumes where it stopped and a rerun of a
finished one reads everything back.

    DIR/NAME.runs/<key>.json   {"config": {...}, "result": {...}}
    key = the first 16 hex digits of sha256(the config as canonical JSON)

A stored file is reused only when it parses, holds exactly the config asked for and a result
its study's schema accepts (rnnlm.study.schema); anything else (a truncated, foreign or forged
file) is run again and replaced, with a note. What is not a regular file (a FIFO, a link to
/dev/zero, a folder) is refused in one line: it can be neither read nor replaced.
"""

import hashlib
import json
import os
import sys

from rnnlm.errors import UsageError
from rnnlm.io.limits import loads_json, read_bounded
from rnnlm.io.outputs import check_writable, write_bytes
from rnnlm.study.schema import RunSchemaError, check_result

MAX_RUN_BYTES = 16 << 20  # a stored run holds at most a few hundred KB


def canonical(config):
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def run_key(config):
    return hashlib.sha256(canonical(config).encode()).hexdigest()[:16]


class RunStore:
    def __init__(self, out_dir, study_name):
        self.study = study_name
        self.folder = os.path.join(out_dir, f"{study_name}.runs")
        if os.path.lexists(self.folder) and not os.path.isdir(self.folder):
            raise UsageError(f"'{self.folder}' (where the study keeps its runs) is not a folder")

    def path(self, config):
        return os.path.join(self.folder, f"{run_key(config)}.json")

    def load(self, config):
        """The stored result of `config`, or None (nothing stored, or not a valid run)."""
        path = self.path(config)
        if not os.path.lexists(path):
            return None
        text = read_bounded(path, "stored run", MAX_RUN_BYTES).decode("utf-8", "replace")
        try:
            stored = loads_json(text, f"stored run '{path}'")
            if not isinstance(stored, dict) or set(stored) != {"config", "result"}:
                raise RunSchemaError("not a {config, result} object")
            if canonical(stored["config"]) != canonical(config):
                raise RunSchemaError("another run's config")
            check_result(self.study, stored["result"])
        except (UsageError, RunSchemaError, ValueError) as exc:
            print(
                f"note: stored run '{path}' is not a valid result ({str(exc)[:160]}); running it again", file=sys.stderr
            )
            return None
        return stored["result"]

    def check_writable(self, config):
        """Before the run: its file can be written (not read-only, not a folder)."""
        if os.path.isdir(self.folder):
            check_writable(self.path(config), "stored run")

    def save(self, config, result):
        os.makedirs(self.folder, exist_ok=True)
        data = (json.dumps({"config": config, "result": result}, indent=1, allow_nan=True) + "\n").encode()
        write_bytes(self.path(config), data)
