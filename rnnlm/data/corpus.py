"""Loading text and the book's preprocessing (d2l.ai `read_time_machine`)."""

import re
from importlib import resources
from pathlib import Path

import numpy as np

from rnnlm.errors import UsageError
from rnnlm.io.limits import read_bounded

EMBEDDED_NAME = "timemachine.txt"
MAX_CORPUS_BYTES = 64 << 20  # the book is 178 kB; 64 MiB of raw text is ~0.5 GB of tokens in memory
_NON_LETTERS = re.compile("[^A-Za-z]+")


def read_raw_text(path=None):
    """The text of `path`, or of the embedded Time Machine when `path` is None."""
    if path is None:
        # bytes, then decode: text mode would turn CRLF into LF, and raw text keeps every character
        return resources.files("rnnlm.data").joinpath(EMBEDDED_NAME).read_bytes().decode("utf-8")
    if Path(path).is_dir():
        raise UsageError(f"corpus '{path}' is a directory, not a text file")
    data = read_bounded(path, "corpus", MAX_CORPUS_BYTES)  # devices and FIFOs refused unread
    if not data:
        raise UsageError(f"corpus '{path}' is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"corpus '{path}' is not UTF-8 text") from None


def corpus_name(path):
    """How messages name a corpus: its path, or the embedded book."""
    return f"corpus '{path}'" if path else "the corpus"


def preprocess_lines(text):
    """The book's cleaning: runs of non-letters become one space, strip, lower-case."""
    return [_NON_LETTERS.sub(" ", line).strip().lower() for line in text.splitlines()]


def tokenize(lines, token="char"):
    """Split each line into word or character tokens, as the book's `tokenize`."""
    if token == "word":
        return [line.split() for line in lines]
    if token == "char":
        return [list(line) for line in lines]
    raise UsageError(f"unknown token type '{token}' (choose from: char, word)")


def load_lines(path=None):
    """Preprocessed lines of a corpus; an error if no letters survive preprocessing."""
    lines = preprocess_lines(read_raw_text(path))
    if not any(lines):
        raise UsageError(f"corpus '{path}' has no letters left after preprocessing")
    return lines


def load_corpus(path=None, max_tokens=10000, token="char", text="book"):
    """(token ids as int64, Vocab) as the book's `load_corpus_time_machine`.

    text="book": the book's cleaning, lines concatenated without separators, as in the
    book; text="raw": every character of the file as it is (case, punctuation, newlines).
    `max_tokens` > 0 keeps only the first `max_tokens` ids (the vocabulary still comes
    from the whole text).
    """
    from rnnlm.data.vocab import Vocab

    if text == "raw":
        if token != "char":
            raise UsageError("raw text is read as characters only")
        tokens = [list(read_raw_text(path))]
    elif text == "book":
        tokens = tokenize(load_lines(path), token)
    else:
        raise UsageError(f"unknown text mode '{text}' (choose from: book, raw)")
    vocab = Vocab(tokens)
    corpus = np.array([vocab[t] for line in tokens for t in line], dtype=np.int64)
    if max_tokens > 0:
        corpus = corpus[:max_tokens]
    return corpus, vocab
