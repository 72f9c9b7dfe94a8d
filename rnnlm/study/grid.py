"""Running a study: its grid of runs, each in a worker process with one pinned thread, each
stored as it ends (rnnlm.study.store), then the study's JSON, Markdown and figure.

Every run, whatever --jobs, computes in a fresh worker process whose frameworks load with
one OpenMP thread and compute with one thread: the thread count changes the last bits of
float sums, so pinning it is what makes `--jobs 4` give the numbers `--jobs 1` gives.
"""

import importlib
import importlib.util
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Dict, List

from rnnlm.backend import BACKENDS, SPECS, check_names, study_models_module
from rnnlm.errors import UsageError
from rnnlm.install import install_hint
from rnnlm.io.outputs import check_writable, write_bytes
from rnnlm.study.store import RunStore

STUDIES = ("scratch", "overfit", "autoregressive", "depth", "compress")


@dataclass
class StudyResult:
    """What `rnnlm.study(...)` returns: every run's config and result, in grid order."""

    name: str
    runs: List[Dict[str, Any]]  # [{"config": ..., "result": ...}]
    answer: str  # the short answer, derived from the numbers
    files: Dict[str, str]  # json, md, png -> path
    reused: int  # runs read back from the store rather than run


def study_module(name):
    if name not in STUDIES:
        raise UsageError(f"unknown study '{name}' (choose from: {', '.join(STUDIES)})")
    return importlib.import_module(f"rnnlm.study.{name}")


def check_backends(names):
    """The training backends asked for, each installed (checked without importing it)."""
    for name in check_names(names):
        spec = SPECS[name]
        if importlib.util.find_spec(spec.needs[0]) is None:
            raise UsageError(
                f"backend '{name}' needs {spec.needs[0]}, which is not installed: {install_hint(spec.extra)}"
            )
        if spec.study_models is None:
            study_models_module(spec)  # the one line that says which backends have them
    return list(names)


def default_backends():
    """The first installed training backend that has study models; a UsageError when none is."""
    found = [n for n in BACKENDS if SPECS[n].study_models and importlib.util.find_spec(SPECS[n].needs[0])][:1]
    if not found:
        hints = " or ".join(install_hint(SPECS[n].extra) for n in BACKENDS if SPECS[n].study_models)
        raise UsageError(f"rnnlm study needs a training backend, and none is installed: {hints}")
    return found


def check_out_dir(out):
    parent = os.path.dirname(os.path.abspath(out))
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out '{out}' is not a folder")
    if not os.path.isdir(parent):
        raise UsageError(f"--out '{out}': folder '{parent}' does not exist")
    if not os.access(out if os.path.isdir(out) else parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out '{out}' is not writable")


def _pin_threads():
    """Worker start: one thread for every framework, before any of them loads."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


def _run_point(name, config):
    """In a worker: one grid point, start to end; returns (result, seconds)."""
    start = time.perf_counter()
    result = study_module(name).run(config)
    return result, time.perf_counter() - start


class _GridProgress:
    """A tqdm bar over the grid on a terminal, else one line per finished run."""

    def __init__(self, name, total, done, quiet):
        self.name, self.total, self.done, self.quiet, self.bar = name, total, done, quiet, None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="run", desc=f"study {name}", file=sys.stderr)

    def finished(self, label):
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(1)
        elif not self.quiet:
            print(f"study {self.name}: {self.done}/{self.total} runs ({label})", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_study(name, backends=None, quick=False, jobs=1, out="studies", quiet=False):
    """Run (or finish, or read back) study `name`; returns a StudyResult. Every setting is
    checked before the first run starts."""
    module = study_module(name)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, got {jobs!r}")
    check_out_dir(out)  # the paths first: they need no framework to judge
    store = RunStore(out, name)
    backends = check_backends(backends if backends is not None else default_backends())
    module.check(backends)
    os.makedirs(out, exist_ok=True)
    configs = module.points(backends, quick)
    for path in report_paths(name, out).values():  # a read-only report must cost seconds, not the study
        check_writable(path, "report")
    results = [store.load(c) for c in configs]
    reused = sum(r is not None for r in results)
    pending = [i for i, r in enumerate(results) if r is None]
    for i in pending:
        store.check_writable(configs[i])
    progress = _GridProgress(name, len(configs), reused, quiet)
    try:
        if pending:
            _run_pending(name, configs, results, pending, store, jobs, progress, module)
    finally:
        progress.close()
    runs = [{"config": c, "result": r} for c, r in zip(configs, results)]
    return _write_outputs(name, module, runs, out, quick, reused)


def _run_pending(name, configs, results, pending, store, jobs, progress, module):
    context = multiprocessing.get_context("spawn")  # no framework state inherited from the parent
    with ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=context, initializer=_pin_threads) as pool:
        futures = {pool.submit(_run_point, name, configs[i]): i for i in pending}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                i = futures.pop(future)
                result, seconds = future.result()
                result["wall_seconds"] = seconds
                store.save(configs[i], result)  # stored the moment it ends
                results[i] = result
                progress.finished(module.label(configs[i]))


def report_paths(name, out):
    return {kind: os.path.join(out, f"{name}.{kind}") for kind in ("json", "md", "png")}


EXERCISES = "docs/exercises.md"  # the full grids' answers


def smoke_note(name, module):
    """What a --quick report says first: its numbers check that the study runs, no more."""
    number = STUDIES.index(name) + 1
    return (
        f"A smoke grid (--quick: {module.quick_grid()}): it checks that the study runs, and its "
        f"numbers answer nothing. The full grid's answers are in {EXERCISES}, exercise {number} "
        f"(`rnnlm study {name}` without --quick)."
    )


def _write_outputs(name, module, runs, out, quick, reused):
    paths = report_paths(name, out)
    summary = module.summarize(runs)
    note = smoke_note(name, module) if quick else None
    if note:
        summary = {**summary, "answer": f"{note} What the smoke grid gave: {summary['answer']}"}
    doc = {"study": name, "quick": quick, **({"note": note} if note else {}), "runs": runs, "summary": summary}
    data = (json.dumps(doc, indent=1) + "\n").encode()
    write_bytes(paths["json"], data)
    md = module.markdown(runs, summary)
    if note:
        title, rest = md.split("\n", 1)
        md = f"{title}\n\n> **{note}**\n{rest}"
    write_bytes(paths["md"], md.encode())
    module.figure(runs, summary, paths["png"])
    return StudyResult(name, runs, summary["answer"], paths, reused)
