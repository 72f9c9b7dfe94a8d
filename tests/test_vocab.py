from rnnlm.data.vocab import Vocab


def test_unk_first_then_descending_frequency_ties_by_token():
    vocab = Vocab([list("bbbaacc d")])
    # b:3, a:2, c:2 (tie -> alphabetical), ' ':1 and d:1 (tie -> ' ' < 'd')
    assert vocab.idx_to_token == ["<unk>", "b", "a", "c", " ", "d"]


def test_order_does_not_depend_on_first_appearance():
    assert Vocab([list("xyyx")]).idx_to_token == Vocab([list("yxxy")]).idx_to_token


def test_lookups_both_ways_and_unknown_maps_to_zero():
    vocab = Vocab([list("hello")])
    assert vocab["l"] == 1
    assert vocab[["h", "?"]] == [vocab["h"], 0]
    assert vocab.to_tokens([1, 0]) == ["l", "<unk>"]
    assert vocab.to_tokens(1) == "l"
    assert vocab.unk == 0


def test_min_freq_and_reserved_tokens():
    vocab = Vocab([["a", "a", "b"]], min_freq=2, reserved_tokens=["<pad>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "a"]
    assert vocab["b"] == 0


def test_rebuilt_from_its_token_list_is_the_same_mapping():
    vocab = Vocab([list("the time machine")])
    again = Vocab.from_tokens_list(vocab.idx_to_token)
    assert again.token_to_idx == vocab.token_to_idx and len(again) == len(vocab)
