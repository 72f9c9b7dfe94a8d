"""Hostile checkpoints: hundreds of random mutations of a real one, each ending in success
or one `error:` line with exit 2, never a traceback or a hang."""

import copy
import json
import math
import signal

import numpy as np
import pytest

from rnnlm.checkpoints.file import META_KEY, load_checkpoint
from rnnlm.cli.main import main
from tests.support.commands import assert_one_line_error, run_cli
from rnnlm.errors import UsageError

CASES = 300
SECONDS_PER_CASE = 10


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory, any_backend):
    path = tmp_path_factory.mktemp("fuzz") / "real.npz"
    assert (
        main(
            [
                "train",
                "--backend",
                any_backend,
                "--epochs",
                "2",
                "--num-hiddens",
                "8",
                "--num-layers",
                "2",
                "--model",
                "gru",
                "--max-tokens",
                "2000",
                "--quiet",
                "--save",
                str(path),
            ]
        )
        == 0
    )
    return path


def read(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop(META_KEY))), arrays


def write(path, meta, arrays, meta_text=None):
    entries = {**arrays, META_KEY: np.array(meta_text if meta_text is not None else json.dumps(meta))}
    with open(path, "wb") as f:
        np.savez(f, **entries)


def paths_in(obj, prefix=()):
    """Every (key path) inside the metadata, nested objects and lists included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths_in(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:4]):
            yield from paths_in(v, prefix + (i,))


ODD_VALUES = [
    None,
    0,
    -1,
    1,
    10**12,
    2**70,
    1.5,
    -0.0,
    math.nan,
    math.inf,
    "",
    "x",
    "<unk>",
    [],
    [1, 2],
    {},
    {"a": 1},
    True,
    False,
    "float16",
    "int8",
]


def mutate_meta(meta, rng):
    meta = copy.deepcopy(meta)
    paths = [p for p in paths_in(meta) if p]
    path = paths[rng.integers(len(paths))]
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    action = rng.integers(3)
    if action == 0:
        del parent[path[-1]]
    else:
        parent[path[-1]] = ODD_VALUES[rng.integers(len(ODD_VALUES))]
    return meta


def mutate_arrays(arrays, rng):
    arrays = dict(arrays)
    name = sorted(arrays)[rng.integers(len(arrays))]
    a = arrays[name]
    action = rng.integers(7)
    if action == 0:
        a = a.copy()
        a.flat[rng.integers(a.size)] = np.nan
    elif action == 1:
        a = a.astype(np.float16)
    elif action == 2:
        a = a.reshape(-1)
    elif action == 3:
        a = a.T.copy() if a.ndim == 2 else np.concatenate([a, a])
    elif action == 4:
        del arrays[name]
        return arrays
    elif action == 5:
        arrays["rnn.weight_ih_l7"] = a
        return arrays
    else:
        a = a.astype(np.int32)
    arrays[name] = a
    return arrays


def mutant(kind, rng, original, meta, arrays, path):
    if kind == "bytes":
        data = bytearray(original)
        for _ in range(rng.integers(1, 9)):
            data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(data))
    elif kind == "truncate":
        path.write_bytes(original[: rng.integers(len(original))])
    elif kind == "meta":
        write(path, mutate_meta(meta, rng), arrays)
    elif kind == "arrays":
        write(path, meta, mutate_arrays(arrays, rng))
    else:  # metadata that is not what JSON of ours looks like
        texts = ["", "[]", "null", "{", '{"format": "rnnlm-checkpoint"}', json.dumps(meta)[:-5], "\x00" * 10]
        write(path, meta, arrays, meta_text=texts[rng.integers(len(texts))])


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def use(path, backend):
    """What predict and resume do with a checkpoint: load, build, step; errors are UsageError."""
    from rnnlm import api
    from rnnlm.config import RunOptions

    model = api.load(path, backend=backend.NAME)
    model.predict("the", 3)
    _, _, _, meta = load_checkpoint(path)
    if "train" in meta:
        api.resume_point(RunOptions(save=str(path), resume="yes"), epochs=meta["train"].get("epochs", 1) + 1)


def test_random_mutations_load_or_fail_with_a_usage_error(real_checkpoint, tmp_path, backend):
    original = real_checkpoint.read_bytes()
    meta, arrays = read(real_checkpoint)
    rng = np.random.default_rng(2024)
    kinds = ["bytes", "truncate", "meta", "meta", "meta", "arrays", "arrays", "text"]
    outcomes = {"ok": 0, "error": 0}
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for case in range(CASES):
            kind = kinds[rng.integers(len(kinds))]
            path = tmp_path / f"m{case}.npz"
            mutant(kind, rng, original, meta, arrays, path)
            signal.alarm(SECONDS_PER_CASE)
            try:
                use(path, backend)
                outcomes["ok"] += 1
            except UsageError as exc:
                assert "\n" not in str(exc), (kind, str(exc))
                outcomes["error"] += 1
            except Hang:
                pytest.fail(f"case {case} ({kind}) hung for {SECONDS_PER_CASE} s")
            except Exception as exc:  # anything else is a traceback a user would see
                pytest.fail(f"case {case} ({kind}): {type(exc).__name__}: {exc}")
            finally:
                signal.alarm(0)
            path.unlink()
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert outcomes["error"] > CASES // 2 and outcomes["ok"] > 0, outcomes


@pytest.mark.parametrize("case", range(6))
def test_mutations_through_the_cli_are_one_error_line(real_checkpoint, tmp_path, case):
    meta, arrays = read(real_checkpoint)
    rng = np.random.default_rng(100 + case)
    kind = ["bytes", "meta", "arrays", "text", "meta", "truncate"][case]
    path = tmp_path / "m.npz"
    mutant(kind, rng, real_checkpoint.read_bytes(), meta, arrays, path)
    try:  # what the file is decides what the command must do
        load_checkpoint(path)
        loads = True
    except UsageError:
        loads = False
    for command in (["predict", "the", "--checkpoint", str(path)], ["eval", "--checkpoint", str(path)]):
        proc = run_cli(*command, timeout=120)
        if loads:
            assert proc.returncode == 0, (kind, proc.stderr[-800:])
        else:
            assert_one_line_error(proc, "checkpoint")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("vocab", ["<unk>", "a"], "'vocab' has 2 tokens"),
        ("model", None, "'model' must be an object"),
        ("vocab", "VOCAB_OF_INTS", "'vocab' must be a list of non-empty strings"),
        ("dtype", "int8", "'dtype' must be one of"),
        ("model.num_layers", 1000000000, "'model.num_layers' 1000000000 needs"),
        ("model.activation", "relu", "--activation applies to the vanilla rnn only"),
    ],
)
def test_hand_edited_metadata_names_the_field(real_checkpoint, tmp_path, field, value, fragment):
    meta, arrays = read(real_checkpoint)
    if value == "VOCAB_OF_INTS":
        value = list(range(len(meta["vocab"])))
    target, key = (meta["model"], field.split(".")[1]) if "." in field else (meta, field)
    target[key] = value
    path = tmp_path / "edited.npz"
    write(path, meta, arrays)
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(")):
        load_checkpoint(path)


def test_nan_weights_are_refused(real_checkpoint, tmp_path):
    meta, arrays = read(real_checkpoint)
    arrays["linear.weight"] = np.full_like(arrays["linear.weight"], np.nan)
    path = tmp_path / "nan.npz"
    write(path, meta, arrays)
    with pytest.raises(UsageError, match="linear.weight holds NaN"):
        load_checkpoint(path)
