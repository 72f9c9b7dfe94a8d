"""The command line, in process (fast) and, where exit codes and stderr matter, as a user runs it."""

import json

import pytest

from rnnlm.cli.main import main
from tests.support.commands import assert_one_line_error, run_cli

SMALL = ["--epochs", "2", "--num-hiddens", "16", "--max-tokens", "2000", "--quiet"]


def test_bogus_backend_from_environment():
    proc = run_cli("train", env={"RNNLM_BACKEND": "bogus"})
    assert_one_line_error(proc, "bogus", "torch, mxnet")


def test_train_prints_the_books_summary_and_writes_metrics(backend, tmp_path, capsys):
    metrics = tmp_path / "m.json"
    assert main(["train", "--backend", backend.NAME, *SMALL, "--metrics-json", str(metrics)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3
    summary = out[0]
    assert summary.startswith("perplexity ") and summary.endswith(
        f" tokens/sec on {backend.device_name(backend.resolve_device('cpu'))}"
    )
    assert out[1].startswith("time traveller") and len(out[1]) == len("time traveller") + 50
    assert out[2].startswith("traveller") and len(out[2]) == len("traveller") + 50
    m = json.loads(metrics.read_text())
    for key in (
        "backend",
        "device",
        "model",
        "epochs",
        "num_hiddens",
        "num_layers",
        "batch_size",
        "num_steps",
        "lr",
        "clip",
        "max_tokens",
        "seed",
        "perplexity",
        "tokens_per_sec",
        "train_seconds",
        "history",
    ):
        assert key in m, key
    assert m["backend"] == backend.NAME and m["epochs"] == 2 and len(m["history"]) == 2
    assert m["perplexity"] == m["history"][-1]["perplexity"]
    assert summary == f"perplexity {m['perplexity']:.1f}, {m['tokens_per_sec']:.1f} tokens/sec on {m['device']}"
    assert set(m["history"][0]) >= {"epoch", "perplexity", "tokens_per_sec", "seconds"}


def test_progress_lines_every_ten_epochs_unless_quiet(backend, capsys):
    args = ["train", "--backend", backend.NAME, "--epochs", "20", "--num-hiddens", "8", "--max-tokens", "1200"]
    assert main(args) == 0
    progress = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in progress] == ["epoch 10", "epoch 20"]
    assert main(args + ["--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert not [line for line in out if line.startswith("epoch ")] and out[0].startswith("perplexity")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A small checkpoint trained by each installed backend."""
    from tests.support.backends import requested_backends
    from rnnlm.backend import load_backend
    from rnnlm.errors import UsageError

    folder = tmp_path_factory.mktemp("ckpt")
    out = {}
    for name in requested_backends():
        try:
            load_backend(name)
        except UsageError:
            continue
        path = folder / f"{name}.npz"
        assert (
            main(
                [
                    "train",
                    "--backend",
                    name,
                    "--epochs",
                    "5",
                    "--num-hiddens",
                    "32",
                    "--max-tokens",
                    "3000",
                    "--quiet",
                    "--save",
                    str(path),
                ]
            )
            == 0
        )
        out[name] = path
    return out


def test_checkpoint_from_either_backend_predicts_with_either(backend_pair, checkpoints, capsys):
    for trained_by, path in checkpoints.items():
        lines = []
        for backend in backend_pair:
            assert main(["predict", "time traveller", "--checkpoint", str(path), "--backend", backend.NAME]) == 0
            lines.append(capsys.readouterr().out.rstrip("\n"))
        assert lines[0] == lines[1], trained_by
        assert lines[0].startswith("time traveller") and len(lines[0]) == len("time traveller") + 50


def test_eval_agrees_across_backends(backend_pair, checkpoints, tmp_path, capsys):
    for trained_by, path in checkpoints.items():
        values = []
        for backend in backend_pair:
            out = tmp_path / f"e-{backend.NAME}.json"
            assert main(["eval", "--checkpoint", str(path), "--backend", backend.NAME, "--metrics-json", str(out)]) == 0
            assert capsys.readouterr().out.startswith("perplexity ")
            m = json.loads(out.read_text())
            assert m["backend"] == backend.NAME
            values.append(m["perplexity"])
        assert values[0] == pytest.approx(values[1], rel=1e-5), trained_by
        assert 1.0 < values[0] < 28.0


def test_predict_num_chars(backend, checkpoints, capsys):
    path = checkpoints.get(backend.NAME) or next(iter(checkpoints.values()))
    assert main(["predict", "the", "--checkpoint", str(path), "--num-chars", "7", "--backend", backend.NAME]) == 0
    assert len(capsys.readouterr().out.rstrip("\n")) == 3 + 7


def test_predict_unknown_characters_warn_and_map_to_unk(backend, checkpoints, capsys):
    path = checkpoints.get(backend.NAME) or next(iter(checkpoints.values()))
    assert main(["predict", "Time", "--checkpoint", str(path), "--backend", backend.NAME]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Time")
    assert captured.err.startswith("warning:") and "'T'" in captured.err


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["train", "--epochs", "0"], ["--epochs", "must be a positive integer, got 0"]),
        (["train", "--batch-size", "-1"], ["--batch-size"]),
        (["train", "--num-steps", "0"], ["--num-steps"]),
        (["train", "--num-hiddens", "0"], ["--num-hiddens"]),
        (["train", "--num-layers", "0"], ["--num-layers"]),
        (["train", "--lr", "0"], ["--lr"]),
        (["train", "--clip", "-1"], ["--clip"]),
        (["train", "--lr", "nan"], ["--lr"]),
        (["train", "--model", "transformer"], ["--model", "transformer"]),
        (["train", "--backend", "caffe"], ["unknown backend 'caffe'"]),
        (["train", "--corpus", "/nonexistent/file.txt"], ["does not exist"]),
        (["train", "--batch-size", "1000"], ["too short for one minibatch"]),
        (["predict", "", "--checkpoint", "x.npz"], ["prefix is empty"]),
        (["predict", "abc", "--checkpoint", "/nonexistent.npz"], ["does not exist"]),
        (["predict", "abc", "--checkpoint", "x.npz", "--num-chars", "-1"], ["--num-chars"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args, fragments, capsys):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def _compare(tmp_path, names):
    out = tmp_path / f"{'-'.join(names)}.json"
    assert (
        main(
            [
                "compare",
                "--backends",
                ",".join(names),
                "--epochs",
                "3",
                "--num-hiddens",
                "16",
                "--max-tokens",
                "2000",
                "--dtype",
                "float64",
                "--metrics-json",
                str(out),
            ]
        )
        == 0
    )
    return json.loads(out.read_text())


def test_compare_prints_table_and_writes_every_run(training_backends, tmp_path, capsys):
    names = [b.NAME for b in training_backends]
    m = _compare(tmp_path, names)
    text = capsys.readouterr().out
    assert "max relative difference" in text and "first epoch above 1e-09" in text
    assert set(m) == {*names, "max_rel_diff", "rel_diffs"}
    assert all(len(m[n]["history"]) == 3 for n in names)
    assert m["max_rel_diff"] <= 1e-12
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    assert sorted(m["rel_diffs"]) == sorted(f"{a}-{b}" for a, b in pairs)
    for a, b in pairs:
        diffs = [
            abs(x["perplexity"] - y["perplexity"]) / y["perplexity"] for x, y in zip(m[a]["history"], m[b]["history"])
        ]
        assert m["rel_diffs"][f"{a}-{b}"] == diffs
        assert f"rel {a}-{b}" in text
    assert m["max_rel_diff"] == max(max(d) for d in m["rel_diffs"].values())


def test_compare_in_either_order_gives_the_same_runs(backend_pair, tmp_path):
    a, b = (x.NAME for x in backend_pair)
    forward, backward = _compare(tmp_path, [a, b]), _compare(tmp_path, [b, a])
    for name in (a, b):
        assert [h["perplexity"] for h in forward[name]["history"]] == [
            h["perplexity"] for h in backward[name]["history"]
        ]
    assert forward["max_rel_diff"] == pytest.approx(backward["max_rel_diff"], rel=1e-6)


@pytest.mark.parametrize(
    "names, fragment",
    [
        ("torch", "two or more"),
        ("torch,torch", "twice"),
        ("torch,bogus", "unknown backend 'bogus'"),
        ("torch,onnxruntime", "predict and eval only"),
    ],
)
def test_compare_refuses_bad_backend_lists(names, fragment, capsys):
    assert main(["compare", "--backends", names, "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_python_dash_m_matches_console_entry_point():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("rnnlm ")
