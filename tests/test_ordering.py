"""The --test-order option itself: each order is what it says, and bad values are refused."""

import pytest

from tests.ordering import parse, reorder


def test_reverse_and_shuffle_reorder_and_shuffle_is_repeatable():
    items = list(range(50))
    reverse = items[:]
    reorder(reverse, *parse("reverse"))
    assert reverse == items[::-1]
    a, b, c = items[:], items[:], items[:]
    tens = lambda i: i // 10  # noqa: E731  (five "files" of ten tests)
    reorder(a, *parse("shuffle:3"), file_of=tens)
    reorder(b, *parse("shuffle:3"), file_of=tens)
    reorder(c, *parse("shuffle:4"), file_of=tens)
    assert a == b and sorted(a) == items and a != items and a != c
    files = [tens(i) for i in a]
    assert sorted(set(files)) == [0, 1, 2, 3, 4] and files != sorted(files)  # files shuffled...
    assert sum(x != y for x, y in zip(files, files[1:])) == 4  # ...each one's tests kept together
    assert any(a[k:k + 10] != sorted(a[k:k + 10]) for k in range(0, 50, 10))  # and shuffled inside
    same = items[:]
    reorder(same, *parse("file"))
    assert same == items


@pytest.mark.parametrize("bad", ["random", "reverse:3", "shuffle:x", ""])
def test_bad_orders_are_refused(bad):
    with pytest.raises(pytest.UsageError):
        parse(bad)
