"""Issue 28's findings as a user meets them: each a `python -m rnnlm ...` process limited to
60 s and 3 GB (RLIMIT_AS), checked to end in exactly one `error:` line with exit 2 (or to be
accepted: exit 0), with every input byte-identical afterwards. Prints one row per finding
and a JSON summary; tests/test_issue28_probe.py runs it (slow).

    python -m tests.support.issue28_probe WORKDIR
"""

import hashlib
import json
import os
import resource
import subprocess
import sys
import time

SECONDS, BYTES = 60, 3 << 30
TINY = [
    "--epochs",
    "1",
    "--num-hiddens",
    "8",
    "--max-tokens",
    "2000",
    "--batch-size",
    "4",
    "--num-steps",
    "5",
    "--quiet",
]


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (BYTES, BYTES))


def rnnlm(args, cwd, env=None):
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rnnlm", *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=SECONDS,
            preexec_fn=_limits,
            env={**os.environ, **(env or {})},
        )
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = "hang", ""
    return code, err, time.monotonic() - start


def digest(paths):
    return {p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in paths if os.path.isfile(p)}


def findings(w):
    """(name, argv, inputs, expect, env): expect 'error' (one line, exit 2) or 'ok' (exit 0)."""
    from tests.support import fuzz_corpus

    j = lambda name: os.path.join(w, name)  # noqa: E731
    assert (
        subprocess.run(
            [sys.executable, "-m", "rnnlm", "train", *TINY, "--save", j("base.npz")], cwd=w, capture_output=True
        ).returncode
        == 0
    )
    os.link(j("base.npz"), j("run.npz"))  # fuzz_corpus's resume cases edit run.npz
    subprocess.run(
        [sys.executable, "-m", "rnnlm", "export", j("base.npz"), "--format", "torch", "--out", j("m.pt")],
        cwd=w,
        capture_output=True,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "rnnlm", "export", j("base.npz"), "--format", "onnx", "--out", j("base.onnx")],
        cwd=w,
        capture_output=True,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "rnnlm", "train", *TINY, "--metrics-json", j("self.json")],
        cwd=w,
        capture_output=True,
        check=True,
    )
    with open(j("same.txt"), "w") as f:
        f.write("the time machine by h g wells " * 100)
    os.mkfifo(j("fifo"))
    yield "import x.pt --out x.pt", ["import", j("m.pt"), "--out", j("m.pt")], [j("m.pt")], "error", None
    yield (
        "export X.npz --out X.npz",
        ["export", j("base.npz"), "--format", "torch", "--out", j("base.npz")],
        [j("base.npz")],
        "error",
        None,
    )
    yield (
        "train --corpus same --save same",
        ["train", *TINY, "--corpus", j("same.txt"), "--save", j("same.txt")],
        [j("same.txt")],
        "error",
        None,
    )
    yield "plot self.json -o self.json", ["plot", j("self.json"), "-o", j("self.json")], [j("self.json")], "error", None
    yield (
        "--save X --metrics-json X",
        ["train", *TINY, "--save", j("x.npz"), "--metrics-json", j("x.npz")],
        [],
        "error",
        None,
    )
    yield "--save X --plot X", ["train", *TINY, "--save", j("x.npz"), "--plot", j("x.npz")], [], "error", None
    yield "--save onto a finished run", ["train", *TINY, "--save", j("base.npz")], [j("base.npz")], "error", None
    yield "import FIFO", ["import", j("fifo"), "--out", j("o.npz")], [], "error", None
    yield "--save FIFO (no reader)", ["train", *TINY, "--save", j("fifo")], [], "error", None
    for device in ("/dev/zero", "/dev/urandom", j("fifo")):
        yield f"plot {os.path.basename(device)}", ["plot", device, "-o", j("p.png")], [], "error", None
    for env in ({"JAX_PLATFORMS": "cuda"}, {"JAX_PLATFORMS": "garbage"}, {"JAX_ENABLE_X64": "garbage"}):
        yield f"train --backend jax {env}", ["train", *TINY, "--backend", "jax"], [], "error", env
        yield f"doctor {env}", ["doctor"], [], "doctor", env
    for reader, suffix, argv in (
        ("npz", ".npz", ["eval", "--checkpoint"]),
        ("pt", ".pt", ["import"]),
        ("params", ".params", ["import"]),
        ("onnx", ".onnx", ["eval", "--checkpoint"]),
        ("metrics", ".json", ["plot"]),
    ):
        for name, data in fuzz_corpus.cases(reader, w):
            path = j(f"{reader}-{name}{suffix}")
            with open(path, "wb") as f:
                f.write(data)
            tail = ["--out", j("o.npz")] if argv == ["import"] else ["-o", j("p.png")] if reader == "metrics" else []
            expect = (
                "ok"
                if reader == "metrics" and name in ("1e400", "mathtext-label", "lone-surrogate", "5MB-label")
                else "error"
            )
            yield f"{reader}: {name}", [*argv, path, *tail], [path], expect, None
    for name, data in fuzz_corpus.resume_cases(w):
        path = j(f"resume-{name}.npz")
        with open(path, "wb") as f:
            f.write(data)
        yield (
            f"resume: {name}",
            ["train", "--epochs", "2", "--quiet", "--save", path, "--resume"],
            [path],
            "error",
            None,
        )


def main(workdir):
    rows, bad = [], 0
    for name, argv, inputs, expect, env in findings(workdir):
        before = digest(inputs)
        code, err, seconds = rnnlm(argv, workdir, env)
        lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("warning:", "note:"))]
        if expect == "error":
            ok = code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        elif expect == "doctor":
            ok = code in (0, 2) and "Traceback" not in err
        else:
            ok = code == 0 and "Traceback" not in err
        kept = digest(inputs) == before
        bad += not (ok and kept)
        rows.append(
            {
                "finding": name,
                "exit": code,
                "seconds": round(seconds, 1),
                "ok": ok,
                "inputs_kept": kept,
                "line": (lines[0] if lines else "")[:150],
            }
        )
        print(f"{'ok ' if ok and kept else 'BAD'} {code!s:>4} {seconds:5.1f}s  {name}: {rows[-1]['line']}", flush=True)
    print(json.dumps({"findings": len(rows), "bad": bad}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
