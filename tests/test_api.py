"""The Python API: the same configs and results as the command line, and the README's
example run as written."""

import re
from pathlib import Path

import numpy as np
import pytest

import rnnlm
from rnnlm.cli.main import main
from rnnlm.errors import UsageError
from tests.support.commands import TINY_SETTINGS

README = Path(__file__).resolve().parent.parent / "README.md"
TINY = TINY_SETTINGS


def test_train_returns_history_metrics_and_a_model_like_the_cli(backend, tmp_path, capsys):
    run = rnnlm.train(backend=backend.NAME, **TINY)
    metrics = tmp_path / "m.json"
    assert (
        main(
            [
                "train",
                "--backend",
                backend.NAME,
                "--epochs",
                "3",
                "--num-hiddens",
                "16",
                "--max-tokens",
                "3000",
                "--quiet",
                "--metrics-json",
                str(metrics),
            ]
        )
        == 0
    )
    import json

    cli = json.loads(metrics.read_text())
    assert [h.perplexity for h in run.history] == [h["perplexity"] for h in cli["history"]]
    assert run.perplexity == cli["perplexity"] and run.metrics["backend"] == backend.NAME
    text = run.model.predict("time traveller", num_chars=10)
    assert text.startswith("time traveller") and len(text) == len("time traveller") + 10


def test_save_load_evaluate_round_trip(backend, tmp_path):
    run = rnnlm.train(backend=backend.NAME, **TINY)
    path = run.model.save(tmp_path / "m.npz")
    again = rnnlm.load(path, backend=backend.NAME)
    assert all(np.array_equal(a, again.weights()[k]) for k, a in run.model.weights().items())
    assert again.evaluate(max_tokens=3000) == pytest.approx(run.model.evaluate(max_tokens=3000), rel=1e-12)
    assert again.predict("the", 20) == run.model.predict("the", 20)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "1"])
def test_load_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size, tmp_path):
    with pytest.raises(UsageError, match="batch_size must be a positive integer"):
        rnnlm.load(tmp_path / "absent.npz", batch_size=batch_size)


def test_sampling_is_seeded(any_backend):
    model = rnnlm.train(backend=any_backend, **TINY).model
    a = model.predict("the", 30, temperature=1.0, seed=1)
    assert a == model.predict("the", 30, temperature=1.0, seed=1)
    assert a != model.predict("the", 30, temperature=1.0, seed=2)


def test_compare_gives_per_epoch_differences(training_backends):
    result = rnnlm.compare(epochs=2, num_hiddens=16, max_tokens=3000, dtype="float64")
    assert result.names == [b.NAME for b in training_backends] and len(result.rel_diffs) == 2
    assert len(result.pairs()) == len(training_backends) * (len(training_backends) - 1) // 2
    assert result.max_rel_diff <= 1e-9 and result.first_epoch_above(1e-9) is None


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(epochs=0), "--epochs"),
        (dict(model="gru", activation="relu"), "--activation"),
        (dict(nonsense=1), "unknown setting 'nonsense'"),
        (dict(text="pdf"), "--text"),
        (dict(resume="auto"), "--resume needs --save"),
    ],
)
def test_bad_settings_raise_usage_error_with_the_cli_message(settings, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        rnnlm.train(**{**TINY, **settings})


def test_readme_python_api_example_runs_as_written(backend_pair, tmp_path, monkeypatch, capsys):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README's Python API section has no python block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "small.npz").exists()
    assert "perplexity" in capsys.readouterr().out
