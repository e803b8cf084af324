from __future__ import annotations

from pytest_llmguard.metrics.textdiff import NO_DIFFERENCE, DiffSpan, diff_spans, word_diff


def test_replacement_in_context() -> None:
    a = "You can ask for a refund within 30 days of purchase."
    b = "You can ask for a refund within 60 days of purchase."
    assert word_diff(a, b) == "... a refund within [-30-]{+60+} days of purchase."


def test_insert_and_delete() -> None:
    assert word_diff("a b c", "a b c d") == "a b c {+d+}"
    assert word_diff("a b c d", "a c d") == "a [-b-] c d"


def test_identical_and_whitespace_only() -> None:
    assert word_diff("same  text", "same text") == NO_DIFFERENCE


def test_truncated_to_max_len() -> None:
    a = " ".join(f"w{i}" for i in range(200))
    b = " ".join(f"x{i}" for i in range(200))
    out = word_diff(a, b, max_len=50)
    assert len(out) <= 50 and out.endswith("...") and out.startswith("[-w0 w1")


def test_long_equal_runs_are_elided_between_changes() -> None:
    middle = " ".join(f"m{i}" for i in range(20))
    out = word_diff(f"A {middle} B", f"X {middle} Y")
    assert out == "[-A-]{+X+} m0 m1 m2 ... m17 m18 m19 [-B-]{+Y+}"


def test_spans_mark_each_change_for_the_renderers() -> None:
    a = "You can ask for a refund within 30 days of purchase."
    b = "You can ask for a refund within 60 days of purchase."
    assert diff_spans(a, b) == (
        DiffSpan("gap", "..."),
        DiffSpan("same", "a refund within"),
        DiffSpan("del", "30"),
        DiffSpan("ins", "60"),
        DiffSpan("same", "days of purchase."),
    )
    assert diff_spans("same  text", "same text") == ()
    assert DiffSpan.from_list(["ins", "x"]) == DiffSpan("ins", "x")


def test_spans_are_bounded_and_end_in_a_gap() -> None:
    a = " ".join(f"w{i}" for i in range(500))
    b = " ".join(f"x{i}" for i in range(500))
    spans = diff_spans(a, b, max_chars=100)
    assert sum(len(s.text) for s in spans) <= 104
    assert spans[-1] == DiffSpan("gap", "...")


def test_a_malformed_span_is_refused() -> None:
    import pytest

    for bad in (["bold", "x"], ["ins"], "ins", ["ins", 3]):
        with pytest.raises(ValueError):
            DiffSpan.from_list(bad)
