"""Minibatch iterators over a token-id corpus, exactly as the book partitions it.

Both yield NumPy int64 arrays X, Y of shape (batch_size, num_steps), Y being X shifted
one token to the right. All randomness comes from the `numpy.random.Generator` passed
in, so every backend sees the same batches for the same seed.

Sequential partitioning (offset drawn in [0, num_steps]), batch_size=2, num_steps=3:

    corpus  o a b c d e f g h i j k l m n   (offset 1 drops 'o')
    row 0   a b c | d e f        <- minibatch 1 | minibatch 2
    row 1   g h i | j k l
    Row r of minibatch k+1 continues row r of minibatch k, so the hidden state carries over.

Random partitioning: drop an offset in [0, num_steps), cut the rest into non-overlapping
subsequences of num_steps, shuffle their start positions, and take batch_size at a time;
each subsequence is used at most once per epoch and neighbours are unrelated.
"""

import numpy as np

from rnnlm.errors import UsageError


def seq_data_iter_random(corpus, batch_size, num_steps, rng):
    corpus = np.asarray(corpus, dtype=np.int64)
    corpus = corpus[int(rng.integers(0, num_steps)) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    starts = np.arange(0, num_subseqs * num_steps, num_steps)
    rng.shuffle(starts)
    num_batches = num_subseqs // batch_size
    offsets = np.arange(num_steps)
    for i in range(0, batch_size * num_batches, batch_size):
        idx = starts[i : i + batch_size, None] + offsets
        yield corpus[idx], corpus[idx + 1]


def seq_data_iter_sequential(corpus, batch_size, num_steps, rng):
    corpus = np.asarray(corpus, dtype=np.int64)
    offset = int(rng.integers(0, num_steps + 1))
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    xs = corpus[offset : offset + num_tokens].reshape(batch_size, -1)
    ys = corpus[offset + 1 : offset + 1 + num_tokens].reshape(batch_size, -1)
    num_batches = xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


ITERATORS = {"sequential": seq_data_iter_sequential, "random": seq_data_iter_random}


def max_offset(iter_kind, num_steps):
    """The largest random offset an epoch may start at (0 for evaluation)."""
    return {"sequential": num_steps, "random": num_steps - 1, "eval": 0}[iter_kind]


def check_corpus_length(num_tokens, batch_size, num_steps, iter_kind, what="corpus"):
    """UsageError unless even the worst offset leaves one minibatch plus its last target."""
    need = max_offset(iter_kind, num_steps) + batch_size * num_steps + 1
    if num_tokens < need:
        raise UsageError(
            f"{what} has {num_tokens} tokens, too short for one minibatch of "
            f"--batch-size {batch_size} x --num-steps {num_steps} (needs {need}); "
            "use a longer corpus, a larger --max-tokens or smaller batches"
        )


def make_batches(corpus, batch_size, num_steps, iter_kind, rng):
    try:
        make = ITERATORS[iter_kind]
    except KeyError:
        raise UsageError(f"unknown iterator '{iter_kind}' (choose from: sequential, random)") from None
    return make(corpus, batch_size, num_steps, rng)
