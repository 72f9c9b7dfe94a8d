"""No output may be an input, nor two outputs one file (rnnlm.io.collisions), and --save never
replaces another run's checkpoint unasked: each refused in one line before any work, every
input left byte-identical (issue 28)."""

import hashlib
import os

import pytest

from rnnlm.errors import UsageError
from rnnlm.io.collisions import check_distinct
from tests.support.commands import TINY_ARGS, tiny_checkpoint
from tests.test_hostile_files import one_error


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_an_output_that_is_an_input_is_refused_through_links(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("x")
    os.symlink(src, tmp_path / "soft")
    os.link(src, tmp_path / "hard")
    for out in (src, tmp_path / "soft", tmp_path / "hard", tmp_path / "sub" / ".." / "in.txt"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(UsageError, match="never writes over"):
            check_distinct([(str(src), "the input")], [(str(out), "--out")])


def test_two_outputs_one_file_are_refused_but_dev_null_takes_several(tmp_path):
    with pytest.raises(UsageError, match="are one file"):
        check_distinct([], [(str(tmp_path / "a"), "--save"), (str(tmp_path / "b" / ".." / "a"), "--plot")])
    check_distinct([], [(os.devnull, "--plot"), (os.devnull, "--metrics-json"), (None, "--save")])


@pytest.fixture
def ck(tmp_path):
    return tiny_checkpoint(tmp_path / "ck.npz")


def test_export_and_import_onto_their_input_leave_it_byte_identical(capsys, tmp_path, ck):
    before = digest(ck)
    assert "is the checkpoint" in one_error(capsys, "export", ck, "--format", "mxnet", "--out", ck)
    native = tmp_path / "m.params"
    assert main_ok(capsys, "export", ck, "--format", "mxnet", "--out", native)
    native_before = digest(native)
    assert "is the input" in one_error(capsys, "import", native, "--out", native)
    os.symlink(native, tmp_path / "link.params")
    assert "is the input" in one_error(capsys, "import", native, "--out", tmp_path / "link.params")
    assert digest(ck) == before and digest(native) == native_before


def main_ok(capsys, *argv):
    from rnnlm.cli.main import main

    code = main([str(a) for a in argv])
    capsys.readouterr()
    return code == 0


def test_train_refuses_its_corpus_and_shared_outputs_before_any_work(capsys, tmp_path):
    corpus = tmp_path / "same.txt"
    corpus.write_text("the time machine by h g wells " * 50)
    before = digest(corpus)
    assert "is the corpus" in one_error(capsys, "train", *TINY_ARGS, "--corpus", corpus, "--save", corpus)
    assert "is the corpus" in one_error(capsys, "train", *TINY_ARGS, "--corpus", corpus, "--metrics-json", corpus)
    x = tmp_path / "x.npz"
    assert "are one file" in one_error(capsys, "train", *TINY_ARGS, "--save", x, "--metrics-json", x)
    assert "are one file" in one_error(capsys, "train", *TINY_ARGS, "--save", x, "--plot", x)
    assert "are one file" in one_error(
        capsys, "train", *TINY_ARGS, "--save", x, "--save-best", x, "--val-fraction", "0.1"
    )
    assert digest(corpus) == before and not x.exists()


def test_save_onto_another_runs_checkpoint_needs_resume_or_overwrite(capsys, tmp_path, any_backend):
    ck = tmp_path / "m2.npz"
    tiny = [*TINY_ARGS, "--backend", any_backend]
    assert main_ok(capsys, "train", *tiny, "--save", ck)
    before = digest(ck)
    line = one_error(capsys, "train", *tiny, "--save", ck)
    assert "already holds a checkpoint at epoch 1" in line and "--overwrite" in line
    assert digest(ck) == before
    assert main_ok(capsys, "train", *tiny, "--save", ck, "--overwrite")
    assert main_ok(capsys, "train", *tiny[:1], "2", *tiny[2:], "--save", ck, "--resume")


def test_overwrite_is_a_run_option_with_its_default_in_the_config():
    from rnnlm.cli.main import build_parser
    from rnnlm.config import RunOptions

    assert build_parser().parse_args(["train"]).overwrite is RunOptions.overwrite is False
    with pytest.raises(UsageError):
        RunOptions(overwrite="yes")


def test_plot_and_eval_refuse_their_inputs_as_outputs(capsys, tmp_path, ck):
    metrics = tmp_path / "self.json"
    metrics.write_text('{"history": [{"epoch": 1, "perplexity": 20.0}]}')
    before = digest(metrics)
    assert "is metrics file" in one_error(capsys, "plot", metrics, "-o", metrics)
    assert "is --checkpoint" in one_error(capsys, "eval", "--checkpoint", ck, "--metrics-json", ck)
    assert digest(metrics) == before
