"""`pytest --test-order reverse|shuffle[:SEED]`: run the collected tests in another order, to
show that no test (and no backend's state) depends on what ran before it in the same process.

The order is a pure function of the collection and the seed, so a failing order can be re-run
exactly; a shuffle prints its seed in the header.
"""

import random

ORDERS = ("file", "reverse", "shuffle")


def pytest_addoption(parser):
    parser.addoption("--test-order", default="file", metavar="ORDER",
                     help="file (pytest's own) | reverse | shuffle[:SEED] (default seed 0)")


def parse(value):
    """(kind, seed) from the option's value; a bad value stops the session with its reason."""
    import pytest
    kind, _, seed = value.partition(":")
    if kind not in ORDERS or (seed and (kind != "shuffle" or not seed.isdigit())):
        raise pytest.UsageError(f"--test-order {value!r}: choose file, reverse or shuffle[:SEED]")
    return kind, int(seed or 0)


def reorder(items, kind, seed, file_of=lambda item: item.nodeid.split("::")[0]):
    """The items in the asked order (in place, as pytest's hook expects). A shuffle shuffles the
    files, then the tests inside each file: a file's tests stay together, so its module-scoped
    fixtures (trained models) are built once rather than once per test."""
    if kind == "reverse":
        items.reverse()
    elif kind == "shuffle":
        rng = random.Random(seed)
        files = {}
        for item in items:
            files.setdefault(file_of(item), []).append(item)
        groups = list(files.values())
        rng.shuffle(groups)
        for group in groups:
            rng.shuffle(group)
        items[:] = [item for group in groups for item in group]


def pytest_report_header(config):
    kind, seed = parse(config.getoption("--test-order"))
    return None if kind == "file" else f"test order: {kind}" + (f" (seed {seed})" if kind == "shuffle" else "")


def pytest_collection_modifyitems(config, items):
    reorder(items, *parse(config.getoption("--test-order")))
