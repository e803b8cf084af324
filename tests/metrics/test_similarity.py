from __future__ import annotations

import numpy as np
import pytest

from pytest_llmguard.metrics.similarity import (
    DEFAULT_SCORER,
    SCORERS,
    json_similarity,
    normalize,
    pair_similarity,
    similarity_batch,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,000", "1000"),
        ("1000.0", "1000"),
        ("1000", "1000"),
        ("$1,249.50!", "1249.5"),
        ("  Hello,\n  WORLD  ", "hello world"),
        ("It\u2019s 30 days\u2014or 60.", "it s 30 days or 60"),
        ("Upgrade to 1.2.3 now", "upgrade to 1.2.3 now"),
        ("3.0.1", "3.0.1"),
        ("1,000,000.00 units", "1000000 units"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_number_formats_compare_equal() -> None:
    assert pair_similarity("It costs $1,000.", "it costs 1000.00") == 1.0


def test_default_scorer_ignores_word_order_and_extra_words() -> None:
    ref = "refund within 30 days of purchase"
    assert pair_similarity("within 30 days of purchase refund", ref) == 1.0
    assert (
        pair_similarity("You get a refund within 30 days of purchase, keep the receipt.", ref) > 0.9
    )
    assert pair_similarity("Our office is closed on Sundays.", ref) < 0.5


def test_ratio_scorer_is_order_sensitive() -> None:
    a, b = "refund within 30 days", "30 days within refund"
    assert pair_similarity(a, b, "ratio") < pair_similarity(a, b, DEFAULT_SCORER)


def test_normalize_false_keeps_case_and_punctuation() -> None:
    assert pair_similarity("HELLO", "hello", "ratio") == 1.0
    assert pair_similarity("HELLO", "hello", "ratio", normalize=False) == 0.0


def test_batch_matches_pairs_and_handles_empty() -> None:
    outs = ["a b c", "", "", "x y z"]
    refs = ["a b c", "", "something", "x y q"]
    got = similarity_batch(outs, refs)
    assert isinstance(got, np.ndarray)
    assert got.shape == (4,)
    assert got[0] == 1.0 and got[1] == 1.0 and got[2] == 0.0
    assert got[3] == pytest.approx(pair_similarity("x y z", "x y q"))
    assert ((got >= 0) & (got <= 1)).all()


def test_batch_rejects_length_mismatch_and_unknown_scorer() -> None:
    with pytest.raises(ValueError, match="2 outputs but 1 references"):
        similarity_batch(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unknown scorer 'nope'; valid: token_set_ratio"):
        similarity_batch(["a"], ["a"], "nope")


@pytest.mark.parametrize("scorer", sorted(SCORERS))
def test_every_scorer_gives_identity_one(scorer: str) -> None:
    assert pair_similarity("The refund takes 5 days.", "the refund takes 5 days", scorer) == 1.0


def test_json_is_compared_structurally() -> None:
    a = '{"status": "ok", "days": 30, "items": [{"name": "Pro plan"}]}'
    same_reordered = '{"items": [{"name": "pro plan"}], "days": 30, "status": "ok"}'
    assert pair_similarity(a, same_reordered) == 1.0
    wrong_number = '{"status": "ok", "days": 60, "items": [{"name": "Pro plan"}]}'
    assert pair_similarity(a, wrong_number) == pytest.approx(2 / 3)
    fenced = '```json\n{"status": "ok", "days": 30, "items": [{"name": "Pro plan"}]}\n```'
    assert pair_similarity(fenced, a) == 1.0


def test_json_similarity_details() -> None:
    assert json_similarity({"a": 1}, {"b": 1}) == 0.0
    assert json_similarity({"a": True}, {"a": 1}) == 0.0  # bool is not a number
    assert json_similarity({"a": 1}, {"a": 1.0}) == 1.0
    assert json_similarity([], []) == 1.0
    assert 0.5 < json_similarity({"a": "refund window"}, {"a": "refund windows"}) < 1.0


def test_json_only_when_both_sides_parse() -> None:
    # one side prose: compared as text, not structurally (which would be 0)
    assert pair_similarity('{"answer": "yes"}', "answer yes") == 1.0
