"""`rnnlm plot`'s metrics files are files from anywhere (issue 28): regular files of bounded
size and nesting, typed epochs, labels drawn as plain text, never parsed as mathtext."""

import json
import os

import pytest

from tests.test_hostile_files import one_error

pytest.importorskip("matplotlib")

HISTORY = [{"epoch": 1, "perplexity": 20.0}, {"epoch": 2, "perplexity": 15.0}]


def _metrics(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def ok(tmp_path):
    return _metrics(tmp_path, "ok.json", json.dumps({"history": HISTORY, "model": "gru"}))


@pytest.mark.parametrize(
    "text",
    [
        '{"history": [{"epoch": 1, "perplexity": 1e400}], "model": "rnn"}',  # inf: read, not drawn
        json.dumps({"history": HISTORY, "model": "$\\foo{$"}),  # mathtext that fails to parse
        '{"history": [{"epoch": 1, "perplexity": 3}], "model": "\\ud800"}',  # a lone surrogate
        json.dumps({"history": HISTORY, "model": "x" * 5_000_000}),  # a 5 MB label
    ],
    ids=["1e400", "mathtext", "surrogate", "5MB-label"],
)
def test_odd_but_valid_metrics_are_plotted(capsys, tmp_path, ok, text):
    from rnnlm.cli.main import main

    bad = _metrics(tmp_path, "odd.json", text)
    assert main(["plot", str(bad), str(ok), "-o", str(tmp_path / "p.png")]) == 0, capsys.readouterr().err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"history": [{"epoch": 1e400, "perplexity": 3}]}', "integer 'epoch'"),
        ('{"history": [{"epoch": true, "perplexity": 3}]}', "integer 'epoch'"),
        ('{"history": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests deeper"),
        ("\xff\xfe", "not"),
    ],
    ids=["epoch-1e400", "epoch-bool", "deep", "not-json"],
)
def test_malformed_metrics_are_one_line(capsys, tmp_path, ok, text, fragment):
    bad = _metrics(tmp_path, "bad.json", text)
    assert fragment in one_error(capsys, "plot", bad, ok, "-o", tmp_path / "p.png")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "fifo"])
def test_devices_and_fifos_are_refused_not_read(capsys, tmp_path, ok, device):
    if device == "fifo":
        device = tmp_path / "fifo.json"
        os.mkfifo(device)
    assert "not a regular file" in one_error(capsys, "plot", device, ok, "-o", tmp_path / "p.png")


def test_a_metrics_file_over_the_limit_is_refused_before_it_is_read(capsys, tmp_path, ok, monkeypatch):
    from rnnlm.training import plot

    monkeypatch.setattr(plot, "MAX_METRICS_BYTES", 100)
    big = _metrics(tmp_path, "big.json", json.dumps({"history": HISTORY * 10}))
    assert "reads at most 100" in one_error(capsys, "plot", big, ok, "-o", tmp_path / "p.png")
