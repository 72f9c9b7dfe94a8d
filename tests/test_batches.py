import numpy as np
import pytest

from rnnlm.data.batches import check_corpus_length, make_batches, seq_data_iter_random, seq_data_iter_sequential
from rnnlm.errors import UsageError

CORPUS = np.arange(1000, dtype=np.int64)  # token id == position, so shifts are visible


@pytest.mark.parametrize("make", [seq_data_iter_random, seq_data_iter_sequential])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_y_is_x_shifted_by_one(make, seed):
    batches = list(make(CORPUS, 4, 7, np.random.default_rng(seed)))
    assert batches
    for X, Y in batches:
        assert X.shape == Y.shape == (4, 7) and X.dtype == np.int64
        assert (Y == X + 1).all()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sequential_minibatches_continue_each_other(seed):
    batches = list(seq_data_iter_sequential(CORPUS, 4, 7, np.random.default_rng(seed)))
    for (X0, _), (X1, _) in zip(batches, batches[1:]):
        assert (X1[:, 0] == X0[:, -1] + 1).all()
    offset = batches[0][0][0, 0]
    assert 0 <= offset <= 7


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_covers_each_subsequence_once_per_epoch(seed):
    corpus = np.arange(1003, dtype=np.int64)
    batches = list(seq_data_iter_random(corpus, 4, 7, np.random.default_rng(seed)))
    starts = np.concatenate([X[:, 0] for X, _ in batches])
    offset = starts.min() % 7
    assert 0 <= offset < 7
    num_subseqs = (len(corpus) - offset - 1) // 7
    all_starts = set(range(offset, offset + num_subseqs * 7, 7))
    assert len(set(starts.tolist())) == len(starts)  # none twice
    assert set(starts.tolist()) <= all_starts  # aligned subsequences only
    assert len(starts) == (num_subseqs // 4) * 4  # all that fill whole batches
    for X, _ in batches:
        assert (np.diff(X, axis=1) == 1).all()


def test_same_seed_same_batches_different_seed_different():
    def run(seed):
        return [X for X, _ in make_batches(CORPUS, 4, 7, "random", np.random.default_rng(seed))]

    assert all((a == b).all() for a, b in zip(run(5), run(5)))
    assert any((a != b).any() for a, b in zip(run(5), run(6)))


@pytest.mark.parametrize("kind", ["sequential", "random"])
def test_minimum_length_yields_a_batch_at_every_offset(kind):
    check_corpus_length(4 * 7 + 8, 4, 7, kind)  # passes at the bound
    corpus = np.arange(4 * 7 + 8, dtype=np.int64)
    for seed in range(20):
        assert list(make_batches(corpus, 4, 7, kind, np.random.default_rng(seed)))
    with pytest.raises(UsageError, match="too short"):
        check_corpus_length(4 * 7, 4, 7, kind)
