"""Text generation: warm up on the prefix, then greedy argmax (the book's `predict_ch8`)
or, with a temperature, sampling from softmax(logits / T), optionally from the top k."""

import numpy as np


def prefix_ids(vocab, prefix):
    """Token ids of `prefix` and the characters that were not in the vocabulary."""
    unknown = sorted({ch for ch in prefix if ch not in vocab.token_to_idx})
    return vocab[list(prefix)], unknown


def choose_next(logits, temperature=0.0, top_k=0, rng=None):
    """The next token id from one row of logits."""
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    if 0 < top_k < len(z):
        z[z < np.partition(z, -top_k)[-top_k]] = -np.inf
    p = np.exp(z - z.max())
    return int(rng.choice(len(z), p=p / p.sum()))


def predict(backend, model, vocab, prefix, num_chars=50, temperature=0.0, top_k=0, rng=None):
    """`prefix` followed by `num_chars` generated characters (greedy when temperature is 0)."""
    ids, _ = prefix_ids(vocab, prefix)
    state = backend.begin_state(model, 1)
    if len(ids) > 1:
        if model.cfg.bidirectional:
            # the reverse direction must not see the rest of the prefix: one char per call
            for i in ids[:-1]:
                _, state = backend.forward(model, np.array([[i]]), state)
        else:
            _, state = backend.forward(model, np.array([ids[:-1]]), state)
    last, out = ids[-1], []
    if temperature == 0:
        out, _ = backend.greedy_continue(model, state, last, num_chars)
        return prefix + "".join(vocab.to_tokens(out.tolist()))
    for _ in range(num_chars):
        logits, state = backend.forward(model, np.array([[last]]), state)
        last = choose_next(logits[-1], temperature, top_k, rng)
        out.append(last)
    return prefix + "".join(vocab.to_tokens(out))
