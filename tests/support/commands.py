"""What many tests share: running the command line as a user does, the one-line error
contract, and tiny models that train or load in a second."""

import json
import os
import subprocess
import sys

from rnnlm.checkpoints.file import save_checkpoint
from rnnlm.config import ModelConfig
from rnnlm.data.vocab import Vocab
from rnnlm.model.weights import init_weights

# a model that trains an epoch in about a second, on the command line and in the API
TINY_ARGS = ["--epochs", "1", "--num-hiddens", "8", "--max-tokens", "2000", "--quiet"]
TINY_SETTINGS = dict(epochs=3, num_hiddens=16, max_tokens=3000, quiet=True)


# A guard against a hung child, not a speed check: on a loaded machine a test's command may
# run many times slower than on a quiet one, which must slow the test, never fail it.
HANG_GUARD_SECONDS = 3600


def run_cli(*args, env=None, cwd=None, timeout=HANG_GUARD_SECONDS):
    """Run `python -m rnnlm` as a user would; returns the CompletedProcess. `env` is added
    to this process's environment; a name it maps to None is left out."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "rnnlm", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in merged.items() if v is not None},
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line_error(proc, *fragments):
    """Exit 2 and exactly one `error: ...` line on stderr, holding every fragment."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def tiny_checkpoint(path, seed=0, hiddens=16, text="the time machine by h g wells traveller"):
    """An untrained rnn checkpoint over the characters of `text`; returns its path as str."""
    vocab = Vocab(list(text))
    cfg = ModelConfig(vocab_size=len(vocab), num_hiddens=hiddens, cell="rnn")
    save_checkpoint(path, cfg, vocab, init_weights(cfg, seed), "float32")
    return str(path)


# ---- the book's files, read back through the command line in process --------------------

BOOK_TOKENS, BOOK_BATCH, BOOK_STEPS = 2000, 8, 10  # the slice the book-file tests train on
EVAL_ARGS = ["--max-tokens", str(BOOK_TOKENS), "--batch-size", str(BOOK_BATCH), "--num-steps", str(BOOK_STEPS)]
PREFIX, NUM_CHARS = "time traveller", 30


def cli(capsys, *argv):
    """Run the CLI in process; returns (exit status, stdout, stderr)."""
    from rnnlm.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def rnnlm_eval(capsys, tmp_path, ck, backend):
    """`rnnlm eval` of checkpoint `ck` on `backend` over the book-file slice: its perplexity."""
    metrics = tmp_path / f"eval-{backend}.json"
    code, _, err = cli(capsys, "eval", "--checkpoint", ck, "--backend", backend, *EVAL_ARGS, "--metrics-json", metrics)
    assert code == 0, err
    return json.loads(metrics.read_text())["perplexity"]


def rnnlm_predict(capsys, ck, backend):
    """`rnnlm predict PREFIX` of checkpoint `ck` on `backend`: the greedy line."""
    code, out, err = cli(capsys, "predict", PREFIX, "--checkpoint", ck, "--backend", backend, "--num-chars", NUM_CHARS)
    assert code == 0, err
    return out.rstrip("\n")
