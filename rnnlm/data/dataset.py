"""The token streams a run trains and validates on: read, split, and checked once."""

from rnnlm.data.batches import check_corpus_length
from rnnlm.data.corpus import corpus_name, load_corpus


def split_validation(corpus, fraction):
    """(train, validation): the last `fraction` of the token stream is held out (a
    DataConfig's val_fraction, whose range DataConfig checks)."""
    if not fraction:
        return corpus, None
    n_val = int(len(corpus) * fraction)
    return corpus[: len(corpus) - n_val], corpus[len(corpus) - n_val :]


def load_training_data(dcfg, tcfg):
    """(training ids, validation ids or None, Vocab); an error unless each stream holds
    at least one minibatch."""
    corpus, vocab = load_corpus(dcfg.corpus, tcfg.max_tokens, text=dcfg.text)
    train, val = split_validation(corpus, dcfg.val_fraction)
    check_corpus_length(
        len(train),
        tcfg.batch_size,
        tcfg.num_steps,
        tcfg.iter,
        "the training split" if val is not None else corpus_name(dcfg.corpus),
    )
    if val is not None:
        check_corpus_length(len(val), tcfg.batch_size, tcfg.num_steps, "eval", "the validation split")
    return train, val, vocab
