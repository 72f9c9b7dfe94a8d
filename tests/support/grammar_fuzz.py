"""The worker of tests/test_grammar_fuzz.py: one reader over files that Hypothesis builds from
the format's grammar (tests/support/grammars.py), after the regression corpus (tests/support/fuzz_corpus.py),
in this process under a memory limit (RLIMIT_AS) and a per-case alarm. Prints the count of
each outcome as JSON: a case must be accepted, or refused in exactly one `error:` line.

    python -m tests.support.grammar_fuzz READER EXAMPLES WORKDIR
"""

import io
import json
import os
import signal
import sys
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings

from tests.support import fuzz_corpus, grammars
from tests.support.fuzz_readers import CaseTimedOut, limit_memory

SECONDS_PER_CASE = 20
FINE = ("accepted", "refused", "run again")  # "run again": a stored study run refused with a note
TINY = [
    "--num-hiddens",
    "4",
    "--max-tokens",
    "600",
    "--batch-size",
    "4",
    "--num-steps",
    "5",
    "--quiet",
    "--backend",
    "torch",
]


def _cli(argv):
    """Run the command line; a refusal (exit 2) is a UsageError, as a library reader's is."""
    from rnnlm.cli.main import main
    from rnnlm.errors import UsageError

    code = main([str(a) for a in argv])
    if code == 2:
        raise UsageError("exit status 2")  # main printed its one line, counted below
    if code != 0:
        raise RuntimeError(f"exit status {code}")


class Reader:
    """A reader, the strategy of its files and the suffix they take."""

    def __init__(self, kind, workdir):
        self.kind, self.workdir = kind, workdir
        self.suffix = {
            "npz": ".npz",
            "resume": ".npz",
            "onnx": ".onnx",
            "pt": ".pt",
            "params": ".params",
            "metrics": ".json",
            "study": ".json",
        }[kind]
        getattr(self, f"_setup_{kind}", lambda: None)()

    def _base_checkpoint(self):
        from rnnlm.checkpoints.file import load_checkpoint
        from tests.support.commands import tiny_checkpoint

        path = tiny_checkpoint(os.path.join(self.workdir, "base.npz"), hiddens=4)
        _, _, arrays, meta = load_checkpoint(path)
        return path, arrays, meta

    def _setup_npz(self):
        _, arrays, meta = self._base_checkpoint()
        self.strategy = grammars.npz_file(arrays, meta)

    def _setup_onnx(self):
        path, _, _ = self._base_checkpoint()
        out = os.path.join(self.workdir, "base.onnx")
        _cli(["export", path, "--format", "onnx", "--out", out])
        with open(out, "rb") as f:
            self.strategy = grammars.onnx_file(f.read())

    def _setup_resume(self):
        from hypothesis import strategies as st

        base = os.path.join(self.workdir, "run.npz")
        _cli(["train", "--epochs", "1", *TINY, "--save", base])
        arrays = dict(np.load(base, allow_pickle=False))
        meta = json.loads(str(arrays.pop("__meta__")))

        @st.composite
        def resumable(draw):
            edited = draw(grammars.edited(meta, st.integers(1, 3)))
            buffer = io.BytesIO()
            np.savez(buffer, __meta__=np.array(grammars.json_text(edited)), **arrays)
            return buffer.getvalue()

        self.strategy = resumable()

    def _setup_pt(self):
        import torch  # noqa: F401  (before the memory limit)

        self.strategy = grammars.pt_file()

    def _setup_params(self):
        self.strategy = grammars.params_file()

    def _setup_metrics(self):
        import matplotlib.figure  # noqa: F401  (before the memory limit)

        self.strategy = grammars.metrics_file()

    def _setup_study(self):
        self.strategy = grammars.study_run()

    def read(self, data):
        """Write the case and read it as the command line would."""
        study = None
        if self.kind == "study":
            study, data = data
        path = os.path.join(self.workdir, f"case{self.suffix}")
        if self.kind == "study":
            from rnnlm.study.store import RunStore

            store = RunStore(self.workdir, study)
            os.makedirs(store.folder, exist_ok=True)
            path = store.path(grammars.STUDY_CONFIG)
        with open(path, "wb") as f:
            f.write(data)
        if self.kind == "study":
            return "accepted" if store.load(grammars.STUDY_CONFIG) is not None else "run again"
        if self.kind in ("pt", "params"):
            from rnnlm.backend import load_format
            from rnnlm.interop.convert import read_native
            from rnnlm.model.names import infer_config

            fmt, weights, _, scheme = read_native(path, "auto")
            infer_config(weights, scheme, path, load_format(fmt).DEFAULT_ACTIVATION)
        elif self.kind in ("npz", "onnx"):
            from rnnlm.checkpoints.file import load_checkpoint

            load_checkpoint(path)
        elif self.kind == "resume":
            from rnnlm.checkpoints.file import read_meta

            epoch = read_meta(path).get("epoch")
            epochs = epoch + 1 if isinstance(epoch, int) and not isinstance(epoch, bool) and 0 < epoch < 5 else 2
            _cli(["train", "--epochs", epochs, "--quiet", "--save", path, "--resume"])
        else:
            _cli(["plot", path, "-o", os.path.join(self.workdir, "plot.png")])


def run_case(reader, data):
    """'accepted', 'refused', or what went wrong (a traceback, a hang, memory, noise)."""
    from rnnlm.errors import UsageError

    err = io.StringIO()
    signal.alarm(SECONDS_PER_CASE)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            outcome = reader.read(data) or "accepted"
    except UsageError:
        outcome = "refused"
    except CaseTimedOut:
        outcome = "hang"
    except MemoryError:
        outcome = "memory"
    except Exception as exc:
        outcome = f"traceback {type(exc).__name__}: {str(exc)[:160]}"
    finally:
        signal.alarm(0)
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
    if outcome == "refused" and len(lines) > 1:
        outcome = f"noise: {lines[:3]}"
    if "Traceback" in err.getvalue():
        outcome = f"traceback printed: {err.getvalue()[-300:]}"
    return outcome


def main(kind, examples, workdir):
    def on_alarm(signum, frame):
        raise CaseTimedOut()

    signal.signal(signal.SIGALRM, on_alarm)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    reader = Reader(kind, workdir)
    counts = {"accepted": 0, "refused": 0}
    corpus = {"accepted": 0, "refused": 0}
    bad = []

    def record(tally, data, outcome, origin):
        key = outcome if outcome in FINE else outcome.split(":")[0]
        tally[key] = tally.get(key, 0) + 1
        if key not in FINE:
            name = os.path.join(workdir, f"failure-{len(bad)}{reader.suffix}")
            with open(name, "wb") as f:
                f.write(data[1] if isinstance(data, tuple) else data)
            bad.append({"origin": origin, "outcome": outcome, "file": name})

    corpus_files = list(fuzz_corpus.cases(kind, workdir))  # built before the limit: some are large
    run_case(reader, corpus_files[-1][1])  # everything the reader imports, imported before the limit
    limit_memory()
    for name, data in corpus_files:
        record(corpus, data, run_case(reader, data), f"corpus {name}")

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(reader.strategy)
    def fuzz(data):
        record(counts, data, run_case(reader, data), "hypothesis")

    fuzz()
    print(
        json.dumps(
            {
                "reader": kind,
                "cases": sum(counts.values()),
                "counts": counts,
                "corpus_cases": sum(corpus.values()),
                "corpus": corpus,
                "bad": bad[:10],
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
