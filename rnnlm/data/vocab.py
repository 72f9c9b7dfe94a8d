"""Token <-> index mapping, as the book's `Vocab`."""

from collections import Counter


class Vocab:
    """`<unk>` at index 0, then reserved tokens, then tokens by descending frequency.

    Ties in frequency are broken by the token itself, so the order never depends on
    where a token first appears.
    """

    UNK = "<unk>"

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        flat = [t for line in (tokens or []) for t in (line if isinstance(line, list) else [line])]
        counter = Counter(flat)
        self.token_freqs = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        self.idx_to_token = [self.UNK] + list(reserved_tokens or [])
        seen = set(self.idx_to_token)  # a set, not the list: linear in the distinct tokens
        for token, freq in self.token_freqs:
            if freq < min_freq:
                break
            if token not in seen:
                self.idx_to_token.append(token)
                seen.add(token)
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    @classmethod
    def from_tokens_list(cls, idx_to_token):
        """Rebuild a vocabulary saved as its `idx_to_token` list (e.g. from a checkpoint)."""
        vocab = cls()
        vocab.idx_to_token = list(idx_to_token)
        vocab.token_to_idx = {t: i for i, t in enumerate(vocab.idx_to_token)}
        return vocab

    @classmethod
    def as_book(cls, tokens):
        """The vocabulary exactly as the book's `Vocab` builds it (d2l 0.17): a stable sort by
        descending frequency, so ties keep the order of first appearance. (It equals
        `Vocab(tokens)` on the Time Machine, which has no ties.) Imported weights index
        tokens in this order."""
        counter = Counter(t for line in tokens for t in (line if isinstance(line, list) else [line]))
        ordered = sorted(counter.items(), key=lambda kv: kv[1], reverse=True)
        return cls.from_tokens_list([cls.UNK] + [t for t, _ in ordered if t != cls.UNK])

    def __len__(self):
        return len(self.idx_to_token)

    @property
    def unk(self):
        return 0

    def __getitem__(self, tokens):
        if isinstance(tokens, (list, tuple)):
            return [self[t] for t in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        if isinstance(indices, (list, tuple)):
            return [self.idx_to_token[int(i)] for i in indices]
        return self.idx_to_token[int(indices)]
