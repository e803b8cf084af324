from __future__ import annotations

from typing import Any

import pytest

from pytest_llmguard.checks import CHECK_KINDS, evaluate_checks, validate_check
from pytest_llmguard.documents import load_schema
from pytest_llmguard.exceptions import CheckSpecError
from pytest_llmguard.golden import GOLDEN_SCHEMA
from pytest_llmguard.records import Case, Check, CheckResult, Message


def _case(*checks: tuple[str, Any]) -> Case:
    return Case(
        set_name="support",
        set_path="golden_sets/support.yaml",
        id="refund",
        messages=(Message("user", "How long?"),),
        checks=tuple(Check(k, a) for k, a in checks),
    )


def _one(
    kind: str, arg: Any, output: str, tokens: int | None = None, **scores: float
) -> CheckResult:
    validate_check(kind, arg)
    (result,) = evaluate_checks(_case((kind, arg)), output, tokens, scores)
    assert result.name == kind
    return result


def test_kinds() -> None:
    assert CHECK_KINDS == (
        "contains", "not_contains", "regex", "json_schema", "max_output_tokens", "similarity",
        "facts", "forbidden", "no_pii", "not_refusal", "not_echo", "max_repetition", "judge",
    )  # fmt: skip


def test_golden_set_schema_lists_the_same_kinds() -> None:
    # The schema is the one list of kinds outside the registry: it must not drift.
    schema = load_schema(GOLDEN_SCHEMA)
    assert tuple(schema["$defs"]["check"]["properties"]) == CHECK_KINDS


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kind", "arg", "message"),
    [
        ("contans", "x", "unknown check 'contans'; valid: contains, not_contains"),
        ("contains", "", "contains: expected a non-empty string, got str ''"),
        ("contains", 3, "contains: expected a non-empty string, got int 3"),
        ("regex", "(unclosed", "regex: invalid regular expression '(unclosed': missing ), "
         "unterminated subpattern at position 0"),
        ("json_schema", {"type": "objekt"},
         "json_schema: invalid schema at type: 'objekt' is not valid"),
        ("json_schema", "object", "json_schema: expected a JSON Schema object"),
        ("max_output_tokens", 0, "max_output_tokens: expected a positive integer, got int 0"),
        ("max_output_tokens", True, "max_output_tokens: expected a positive integer"),
        ("max_output_tokens", 1.5, "max_output_tokens: expected a positive integer"),
        ("similarity", 0.7, "similarity: expected {min: <number 0..1>}"),
        ("similarity", {"min": 1.5}, "similarity: min must be a number from 0 to 1"),
        ("similarity", {"min": 0.5, "max": 1}, "similarity: expected {min: <number 0..1>}"),
        ("facts", [], "facts: expected a non-empty list of non-empty strings"),
        ("facts", "30 days", "facts: expected a non-empty list of non-empty strings"),
        ("forbidden", ["ok", 3], "forbidden: expected a non-empty list of non-empty strings"),
        ("no_pii", ["email", "passport"], "no_pii: unknown PII kind 'passport'; valid: email"),
        ("no_pii", "yes", "no_pii: expected true, false or a list of PII kinds"),
        ("not_refusal", 1, "not_refusal: expected true or false, got int 1"),
        ("max_repetition", 2, "max_repetition: expected a number from 0 to 1, got int 2"),
    ],
)  # fmt: skip
def test_invalid_checks(kind: str, arg: object, message: str) -> None:
    with pytest.raises(CheckSpecError) as info:
        validate_check(kind, arg)
    assert message in str(info.value)


def test_unknown_kind_suggests_the_closest() -> None:
    with pytest.raises(CheckSpecError) as info:
        validate_check("not_contain", "x")
    assert info.value.hint == "did you mean 'not_contains'?"


@pytest.mark.parametrize(
    ("kind", "arg"),
    [
        ("contains", "30 days"),
        ("regex", r"\b30\b"),
        ("json_schema", {"type": "object", "required": ["a"]}),
        ("max_output_tokens", 120),
        ("similarity", {"min": 0}),
        ("similarity", {"min": 1}),
        ("facts", ["30 days"]),
        ("no_pii", True),
        ("no_pii", ["email", "phone"]),
        ("not_refusal", True),
        ("max_repetition", 0.3),
    ],
)
def test_valid_checks(kind: str, arg: object) -> None:
    validate_check(kind, arg)


# ------------------------------------------------------------------ evaluation

OUT = "You can ask for a refund within 30 days of purchase."


def test_contains() -> None:
    assert _one("contains", "30 days", OUT) == CheckResult(
        "contains", True, 'contains "30 days": found'
    )
    assert _one("contains", "60 days", OUT) == CheckResult(
        "contains", False, 'contains "60 days": not found in output'
    )


def test_not_contains_shows_redacted_context() -> None:
    assert _one("not_contains", "lifetime", OUT).passed
    result = _one("not_contains", "refund", "Mail bob@example.com for a refund.")
    assert not result.passed
    assert result.detail == (
        'not_contains "refund": found at char 27: "Mail [REDACTED:email] for a refund."'
    )


def test_regex() -> None:
    assert _one("regex", r"\b30\b", OUT).detail == 'regex /\\b30\\b/: matched "30"'
    result = _one("regex", r"\b60\b", OUT)
    assert not result.passed and result.detail == "regex /\\b60\\b/: no match in output"


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"type": "object",
                       "properties": {"price": {"type": "number"}}}}},
    }  # fmt: skip
    assert _one("json_schema", schema, '```json\n{"items": [{"price": 3}]}\n```').passed
    bad = _one("json_schema", schema, '{"items": [{"price": "abc"}]}')
    assert bad == CheckResult(
        "json_schema", False, "json_schema: $.items[0].price: 'abc' is not of type 'number'"
    )
    missing = _one("json_schema", schema, "{}")
    assert missing.detail == "json_schema: $: 'items' is a required property"
    prose = _one("json_schema", schema, "Sure! Here it is.")
    assert prose.detail == "json_schema: output is not JSON: Expecting value at line 1 column 1"


def test_max_output_tokens() -> None:
    assert _one("max_output_tokens", 10, OUT, tokens=10).passed
    result = _one("max_output_tokens", 10, OUT, tokens=12)
    assert result == CheckResult(
        "max_output_tokens", False, "max_output_tokens 10: output has 12 tokens (> 10)"
    )
    estimated = _one("max_output_tokens", 10, "x" * 41)
    assert not estimated.passed
    assert "11 tokens (estimated: 4 characters per token)" in estimated.detail


def test_similarity_reads_the_batch_score() -> None:
    assert _one("similarity", {"min": 0.7}, OUT, similarity=0.7).passed
    low = _one("similarity", {"min": 0.7}, OUT, similarity=0.62)
    assert low == CheckResult("similarity", False, "similarity 0.620 < min 0.70 (vs expected)")
    none = evaluate_checks(_case(("similarity", {"min": 0.7})), OUT, None, {"similarity": None})
    assert none[0].passed is False
    assert "no score (the case has no expected output)" in none[0].detail


def test_facts() -> None:
    assert _one("facts", ["30 days", "refund"], OUT).detail == "facts: all 2 supported"
    result = _one("facts", ["60 days", "refund", "receipt"], OUT)
    assert result == CheckResult(
        "facts", False, 'facts: 2 of 3 not supported by the output: "60 days", "receipt"'
    )


def test_forbidden() -> None:
    assert _one("forbidden", ["lifetime warranty"], OUT).passed
    result = _one("forbidden", ["lifetime warranty", "30 days"], OUT)
    assert result == CheckResult("forbidden", False, 'forbidden: found "30 days"')


def test_no_pii_names_kinds_never_values() -> None:
    assert _one("no_pii", True, OUT).detail == "no_pii: none found"
    leaky = "Call +1 (555) 123-4567 or mail ann@example.com or bob@example.com"
    result = _one("no_pii", True, leaky)
    assert result == CheckResult("no_pii", False, "no_pii: found email (2), phone (1)")
    assert "example.com" not in result.detail and "555" not in result.detail
    assert _one("no_pii", ["ssn"], leaky).passed
    assert _one("no_pii", False, leaky).detail == "no_pii: disabled"


def test_not_refusal() -> None:
    assert _one("not_refusal", True, OUT).passed
    full = _one("not_refusal", True, "I'm sorry, but I can't help with that.")
    assert full == CheckResult("not_refusal", False, "not_refusal: the output is a full refusal")
    partial = _one(
        "not_refusal",
        True,
        "I can't share the address, but you can message the seller from the order page today.",
    )
    assert partial.detail == "not_refusal: the output is a partial refusal"


def test_max_repetition() -> None:
    assert _one("max_repetition", 0.3, OUT).passed
    looping = "Your refund will be processed soon. " * 4
    result = _one("max_repetition", 0.3, looping)
    assert not result.passed
    assert result.detail.startswith("max_repetition 0.30: repetition score 0.")
    assert _one("max_repetition", 0.3, looping, repetition=0.1).passed  # batch score wins


def test_results_keep_declaration_order() -> None:
    case = _case(("not_contains", "x"), ("contains", "30"), ("regex", "days"))
    results = evaluate_checks(case, OUT, None, {})
    assert [r.name for r in results] == ["not_contains", "contains", "regex"]
