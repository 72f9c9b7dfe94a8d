import hashlib
from importlib import resources

import pytest

from rnnlm.data.corpus import load_corpus, load_lines, preprocess_lines, read_raw_text, tokenize
from rnnlm.errors import UsageError

BOOK_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"


def test_embedded_corpus_is_byte_identical_to_the_books():
    data = resources.files("rnnlm").joinpath("data").joinpath("timemachine.txt").read_bytes()
    assert len(data) == 178979
    assert hashlib.sha1(data).hexdigest() == BOOK_SHA1


def test_embedded_corpus_has_the_books_figures():
    corpus, vocab = load_corpus(max_tokens=0)
    assert len(corpus) == 170580
    assert len(vocab) == 28
    assert vocab.idx_to_token[0] == "<unk>"
    assert set(vocab.idx_to_token[1:]) == set(" abcdefghijklmnopqrstuvwxyz")


def test_max_tokens_truncates_but_vocab_sees_the_whole_text():
    corpus, vocab = load_corpus(max_tokens=10000)
    full, _ = load_corpus(max_tokens=0)
    assert len(corpus) == 10000
    assert (corpus == full[:10000]).all()
    assert len(vocab) == 28


def test_preprocessing_keeps_letters_lowercased_single_spaces():
    assert preprocess_lines("The Time-Machine, 1898!\n  --  \nH. G. Wells") == ["the time machine", "", "h g wells"]


def test_lines_are_concatenated_without_separators(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("ab\ncd\n", encoding="utf-8")
    corpus, vocab = load_corpus(path, max_tokens=0)
    assert "".join(vocab.to_tokens(corpus.tolist())) == "abcd"


def test_tokenize_char_and_word():
    assert tokenize(["ab c"], "char") == [["a", "b", " ", "c"]]
    assert tokenize(["ab c"], "word") == [["ab", "c"]]
    with pytest.raises(UsageError):
        tokenize(["x"], "byte")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"123 456 !!", "no letters"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_bad_corpus_files_are_usage_errors(tmp_path, content, message):
    path = tmp_path / "c.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_lines(path)


def test_directory_corpus_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="directory"):
        read_raw_text(tmp_path)
