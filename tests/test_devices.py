"""`--device gpu` on a machine that visibly has no GPU: one error line at once, before the
corpus is read or a framework imported."""

import pytest

from rnnlm import devices
from tests.support.commands import cli


@pytest.fixture
def no_gpu_nodes(tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "GPU_NODES", (str(tmp_path / "nvidia*"), str(tmp_path / "kfd")))
    monkeypatch.setattr(devices.sys, "platform", "linux")
    return tmp_path


def test_no_device_node_means_no_gpu_on_linux_only(no_gpu_nodes):
    assert devices.visibly_without_gpu()
    assert not devices.visibly_without_gpu(platform="darwin")  # not sure there: the backend decides
    (no_gpu_nodes / "nvidia0").touch()
    assert not devices.visibly_without_gpu()


def fail_if_called(what):
    def called(*args, **kwargs):
        raise AssertionError(f"{what} before --device gpu was refused")

    return called


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "1"],
        ["predict", "time", "--checkpoint", "m.npz"],
        ["eval", "--checkpoint", "m.npz"],
        ["compare", "--epochs", "1"],
    ],
)
def test_device_gpu_is_refused_before_the_corpus_and_the_framework(argv, no_gpu_nodes, monkeypatch, capsys):
    import rnnlm.api as api

    for name in ("load_training_data", "load_selected", "select_backend", "load_checkpoint", "compare_backends"):
        monkeypatch.setattr(api, name, fail_if_called(name))
    code, out, err = cli(capsys, *argv, "--device", "gpu")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: --device gpu: this machine has no GPU (no /dev/nvidia*, /dev/kfd or /dev/dxg); use --device cpu or auto"
    ]


def test_device_cpu_and_auto_pass(no_gpu_nodes):
    devices.check_device("cpu")
    devices.check_device("auto")
