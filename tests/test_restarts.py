"""The launcher's restart loop and the checkpoint's survival of a killed writer, with stand-in
processes (no framework): fast and deterministic. The real groups are in test_faults.py."""

import os
import subprocess
import sys
import types

import pytest

from rnnlm.checkpoints.file import load_checkpoint, save_checkpoint
from rnnlm.io.outputs import remove_stale_temps
from rnnlm.config import ModelConfig
from rnnlm.backends.common.engine import ProcessSpec
from rnnlm.distributed.launch import run_group
from rnnlm.data.vocab import Vocab
from rnnlm.errors import GroupFailed
from rnnlm.model.weights import init_weights
from tests.support.commands import assert_one_line_error, run_cli

CFG = ModelConfig(vocab_size=3, num_hiddens=4)


def save(path, epoch):
    save_checkpoint(
        path,
        CFG,
        Vocab.from_tokens_list(["<unk>", "a", "b"]),
        init_weights(CFG, 0, "float64"),
        "float64",
        extra={"epoch": epoch},
    )


# A stand-in worker: appends its argv to LOG, then acts on the next line of PLAN:
# "die" (SIGKILL itself), "save N" (write a checkpoint of epoch N, then die), "usage" (exit 2), "ok".
WORKER = """
import os, signal, sys
log, plan, ckpt = sys.argv[1:4]
with open(log, "a") as f:
    f.write(" ".join(sys.argv[4:]) + "\\n")
steps = open(plan).read().split("\\n")
step = steps[sum(1 for _ in open(log)) - 1] if sum(1 for _ in open(log)) <= len(steps) else "ok"
if step.startswith("save"):
    sys.path.insert(0, os.environ["TESTS_ROOT"])
    from tests.test_restarts import save
    save(ckpt, int(step.split()[1]))
if step.startswith(("die", "save")):
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(2 if step == "usage" else 0)
"""


def fake_engine(tmp_path, plan):
    (tmp_path / "plan").write_text("\n".join(plan))
    log, ckpt = tmp_path / "log", tmp_path / "ck.npz"

    def group_processes(train_argv, workers, servers, port):
        return [
            ProcessSpec(
                "rank 0",
                [sys.executable, "-c", WORKER, str(log), str(tmp_path / "plan"), str(ckpt), *train_argv],
                {"TESTS_ROOT": os.path.dirname(os.path.dirname(__file__))},
            )
        ]

    return types.SimpleNamespace(group_processes=group_processes), log, ckpt


def started(log):
    return log.read_text().splitlines()


def test_a_restart_resumes_from_the_checkpoint_this_run_wrote(tmp_path, capsys):
    engine, log, ckpt = fake_engine(tmp_path, ["die", "save 5", "ok"])
    assert run_group(engine, ["train", "--save", "x"], 1, 0, max_restarts=3, save=str(ckpt)) == 0
    assert started(log) == ["train --save x", "train --save x", "train --save x --resume auto"]
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("restart 1/3: rank 0 (pid ") and lines[0].endswith(
        "was killed by SIGKILL; starting afresh (no checkpoint of this run yet)"
    )
    assert lines[1].startswith("restart 2/3: rank 0 (pid ") and lines[1].endswith(
        "was killed by SIGKILL; resuming from epoch 5"
    )


def test_an_older_checkpoint_is_not_resumed_by_a_fresh_run(tmp_path, capsys):
    engine, log, ckpt = fake_engine(tmp_path, ["die", "ok"])
    save(ckpt, 9)  # left by an earlier run: this one did not ask to --resume
    assert run_group(engine, ["train"], 1, 0, max_restarts=1, save=str(ckpt)) == 0
    assert started(log) == ["train", "train"]
    assert capsys.readouterr().err.strip().endswith("starting afresh (no checkpoint of this run yet)")


def test_after_k_restarts_the_next_death_ends_the_run_with_one_line(tmp_path, capsys):
    engine, log, ckpt = fake_engine(tmp_path, ["die"] * 4)
    with pytest.raises(GroupFailed) as failed:
        run_group(engine, ["train"], 1, 0, max_restarts=2, save=str(ckpt))
    assert failed.value.status == 1
    assert len(started(log)) == 3
    lines = capsys.readouterr().err.splitlines()
    assert [line[:12] for line in lines] == ["restart 1/2:", "restart 2/2:"]
    line = failed.value.line  # the launcher's one line, which rnnlm.cli.main prints
    assert line.startswith("error: rank 0 (pid ") and line.endswith("was killed by SIGKILL; stopped the group")


def test_bad_input_is_not_restarted(tmp_path, capsys):
    engine, log, ckpt = fake_engine(tmp_path, ["usage"])
    with pytest.raises(GroupFailed) as failed:
        run_group(engine, ["train"], 1, 0, max_restarts=3, save=str(ckpt))
    assert failed.value.status == 2
    assert len(started(log)) == 1
    assert failed.value.line.endswith("exited with status 2; stopped the group")


def test_max_restarts_needs_save():
    assert_one_line_error(
        run_cli("launch", "--workers", "2", "--max-restarts", "1", "--", "train"), "--max-restarts needs --save"
    )


KILLED_WRITER = """
import os, signal, sys
from rnnlm.io.outputs import atomic_write
def write(f):
    f.write(b"PK half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
atomic_write(sys.argv[1], write)
"""


def test_a_writer_killed_mid_write_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "m.npz"
    save(path, 3)
    before = path.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)])
    assert writer.wait(timeout=60) == -9
    assert path.read_bytes() == before
    assert load_checkpoint(path)[3]["epoch"] == 3
    temps = sorted(tmp_path.glob(".m.npz.*.tmp"))
    assert [t.name.split(".")[3] for t in temps] == [str(writer.pid)]  # named by its writer
    # a temp file whose writer still runs (here: our parent) is left alone
    live = tmp_path / f".m.npz.{os.getppid()}.abc.tmp"
    live.write_bytes(b"in progress")
    assert remove_stale_temps(path) == [str(temps[0])]
    assert live.exists()
    save(path, 4)  # the next write cleans up after dead writers too
    live.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    assert load_checkpoint(path)[3]["epoch"] == 4
