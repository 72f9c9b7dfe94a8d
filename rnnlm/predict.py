"""Text generation: warm up on the prefix, then greedy argmax (the book's `predict_ch8`)."""

import numpy as np


def prefix_ids(vocab, prefix):
    """Token ids of `prefix` and the characters that were not in the vocabulary."""
    unknown = sorted({ch for ch in prefix if ch not in vocab.token_to_idx})
    return vocab[list(prefix)], unknown


def predict(backend, model, vocab, prefix, num_chars=50):
    """`prefix` followed by `num_chars` greedily predicted characters."""
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
    for _ in range(num_chars):
        logits, state = backend.forward(model, np.array([[last]]), state)
        last = int(np.argmax(logits[-1]))
        out.append(last)
    return prefix + "".join(vocab.to_tokens(out))
