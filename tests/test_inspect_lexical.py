"""Vocabulary and MTLD, checked against values worked out by hand."""

from __future__ import annotations

import pytest

from rsteller_db.inspect.lexical import LexicalAccumulator, MtldPass, mtld, tokenize


def test_tokenize_lowercases_and_keeps_inner_apostrophes_and_hyphens():
    assert tokenize("A tree-lined road, the farm's EDGE; 3 fields.") == [
        "a", "tree-lined", "road", "the", "farm's", "edge", "3", "fields"]
    assert tokenize("") == []
    assert tokenize(None) == []


def test_mtld_full_factors_by_hand():
    # forward: a b a -> TTR 2/3 <= 0.72 (factor 1); b c c -> 2/3 (factor 2); 6 tokens / 2
    # backward: c c -> 1/2 (factor 1); b a b -> 2/3 (factor 2); a left over with TTR 1
    assert mtld("a b a b c c".split()) == pytest.approx(3.0)


def test_mtld_partial_factor_by_hand():
    # TTR never reaches 0.72: one partial factor (1 - 0.75) / (1 - 0.72) in both directions
    assert mtld("a b c a".split()) == pytest.approx(4 / (0.25 / 0.28))


def test_mtld_of_a_stream_that_never_repeats_is_its_length():
    assert mtld("one two three".split()) == 3.0
    assert mtld([]) == 0.0


def test_more_varied_text_scores_higher():
    dull = ("the field is a field and the field is green " * 20).split()
    varied = ("a narrow creek winds past tall oaks while two gravel lanes cross open corn "
              "near quiet houses beside small ponds under scattered pines").split() * 3
    assert mtld(varied) > 2 * mtld(dull)


def test_accumulator_equals_mtld_of_the_concatenated_stream():
    texts = ["The farmland covers half the view.", "A stream runs north, the stream bends.",
             "Houses line the street; the street is paved.", "Woods fill the view."]
    acc = LexicalAccumulator()
    for text in texts:
        acc.add(text)
    for text in reversed(texts):
        acc.add_backward(text)
    stream = [t for text in texts for t in tokenize(text)]
    tokens, vocabulary, value = acc.result()
    assert tokens == len(stream)
    assert vocabulary == len(set(stream))
    assert value == round(mtld(stream), 2)


def test_accumulator_refuses_unequal_passes():
    acc = LexicalAccumulator()
    acc.add("one two")
    with pytest.raises(ValueError, match="same captions"):
        acc.result()


def test_threshold_must_be_a_ratio():
    with pytest.raises(ValueError):
        MtldPass(1.5)
