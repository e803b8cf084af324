from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmguard.config import QualitySettings
from pytest_llmguard.config.quality import validate_quality
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.records import Case, Check, CheckResult, ErrorRecord, Message, Observation
from pytest_llmguard.scoring import SCORE_NAMES, score_batch


def _case(
    id: str, expected: str | None = None, context: str | None = None, *checks: tuple[str, Any]
) -> Case:
    return Case(
        set_name="s",
        set_path="golden_sets/s.yaml",
        id=id,
        messages=(Message("user", "q"),),
        expected=expected,
        context=context,
        checks=tuple(Check(k, a) for k, a in checks),
    )


def _obs(
    case: Case, output: str | None, error: ErrorRecord | None = None, i: int = 0
) -> Observation:
    return Observation(
        case_key=case.key, target="t", repeat_index=i, model="m", output=output,
        latency_ms=10.0, output_tokens=5, error=error,
    )  # fmt: skip


REFUND = _case(
    "refund",
    "You can ask for a refund within 30 days of purchase.",
    "Refunds: 30 days from purchase, receipt required.",
    ("facts", ["30 days"]),
    ("forbidden", ["lifetime warranty"]),
    ("similarity", {"min": 0.7}),
)
PLAIN = _case("plain", None, None, ("contains", "hello"))


def test_scores_of_a_good_output() -> None:
    (scored,) = score_batch(
        [REFUND], [_obs(REFUND, "Refunds within 30 days of purchase.")], QualitySettings()
    )
    s = scored.scores
    assert set(s) == set(SCORE_NAMES)
    assert s["similarity"] is not None and s["similarity"] > 0.7
    assert s["hallucination"] == 0.0
    assert s["groundedness"] == 1.0
    assert (s["pii"], s["refusal"], s["repetitive"], s["empty"]) == (0.0, 0.0, 0.0, 0.0)
    assert s["output_chars"] == 35.0
    assert [c.passed for c in scored.checks] == [True, True, True]
    assert scored.passed


def test_hallucination_from_facts_forbidden_and_groundedness() -> None:
    wrong = "Refunds within 60 days, plus a lifetime warranty."
    (scored,) = score_batch([REFUND], [_obs(REFUND, wrong)], QualitySettings())
    assert scored.scores["hallucination"] == 1.0
    assert [c.passed for c in scored.checks] == [False, False, False]
    ungrounded = _case("u", None, "Shipping is free over $50.")
    (only_context,) = score_batch(
        [ungrounded], [_obs(ungrounded, "Refunds take 90 days.")], QualitySettings()
    )
    assert only_context.scores["groundedness"] == 0.0
    assert only_context.scores["hallucination"] == 1.0
    lenient = {"hallucination": {"groundedness_min": 0.0}}
    (relaxed,) = score_batch(
        [ungrounded], [_obs(ungrounded, "Refunds take 90 days.")], validate_quality(lenient)
    )
    assert relaxed.scores["hallucination"] == 0.0


def test_not_applicable_scores_are_none() -> None:
    (scored,) = score_batch([PLAIN], [_obs(PLAIN, "hello there")], QualitySettings())
    assert scored.scores["similarity"] is None
    assert scored.scores["hallucination"] is None
    assert scored.scores["groundedness"] is None


def test_detectors_feed_scores() -> None:
    outputs = [
        "Mail me at ann@example.com",
        "I'm sorry, but I can't help with that.",
        "the same thing again " * 6,
        "   ",
    ]
    scored = score_batch(
        [PLAIN], [_obs(PLAIN, o, i=i) for i, o in enumerate(outputs)], QualitySettings()
    )
    assert [s.scores["pii"] for s in scored] == [1.0, 0.0, 0.0, 0.0]
    assert [s.scores["refusal"] for s in scored] == [0.0, 1.0, 0.0, 0.0]
    assert [s.scores["repetitive"] for s in scored] == [0.0, 0.0, 1.0, 0.0]
    assert [s.scores["empty"] for s in scored] == [0.0, 0.0, 0.0, 1.0]


def test_a_refusal_stop_reason_scores_as_a_refusal_whatever_the_text() -> None:
    from dataclasses import replace

    text = "Here is a partial answer about refunds"
    plain = _obs(PLAIN, text)
    scored = score_batch(
        [PLAIN],
        [plain, replace(plain, finish_reason="refusal", repeat_index=1),
         replace(plain, finish_reason="end_turn", repeat_index=2)],
        QualitySettings(),
    )  # fmt: skip
    assert [s.scores["refusal"] for s in scored] == [0.0, 1.0, 0.0]


def test_failed_calls_get_one_call_check_and_no_scores() -> None:
    err = ErrorRecord("timeout", "no response after 60s")
    scored = score_batch(
        [REFUND], [_obs(REFUND, None, err), _obs(REFUND, None, i=1)], QualitySettings()
    )
    assert scored[0].checks == (CheckResult("call", False, "timeout: no response after 60s"),)
    assert scored[1].checks == (
        CheckResult("call", False, "invalid_response: the call returned no output text"),
    )
    for s in scored:
        assert all(v is None for v in s.scores.values()) and set(s.scores) == set(SCORE_NAMES)
        assert not s.passed


def test_similarity_batch_respects_order_with_failures_between() -> None:
    outs = [
        _obs(REFUND, "You can ask for a refund within 30 days of purchase.", i=0),
        _obs(REFUND, None, ErrorRecord("server_error", "500"), i=1),
        _obs(REFUND, "Our office is closed on Sundays.", i=2),
    ]
    scored = score_batch([REFUND], outs, validate_quality({"similarity": {"scorer": "ratio"}}))
    assert scored[0].scores["similarity"] == 1.0
    assert scored[1].scores["similarity"] is None
    third = scored[2].scores["similarity"]
    assert third is not None and third < 0.5


def test_unknown_case_is_an_error() -> None:
    with pytest.raises(
        ValueError, match=re.escape("observation for unknown case 'golden_sets/s.yaml::plain'")
    ):
        score_batch([REFUND], [_obs(PLAIN, "x")], QualitySettings())


def test_validate_quality_defaults_and_values() -> None:
    assert validate_quality({}) == QualitySettings()
    settings = validate_quality(
        {
            "similarity": {"scorer": "WRatio", "normalize": False},
            "hallucination": {"groundedness_min": 0.8},
            "refusal": {"threshold": 1},
            "repetition": {"threshold": 0.5},
        }
    )
    assert settings == QualitySettings("WRatio", False, 0.8, 1.0, 0.5)


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        ({"similarity": {"scorer": "x"}},
         "quality.similarity.scorer: unknown scorer 'x'; valid: token_set_ratio, token_sort_ratio"),
        ({"similarty": {}}, "quality.similarty: unknown key 'similarty'; valid: similarity"),
        ({"similarity": {"scorr": "ratio"}}, "quality.similarity.scorr: unknown key 'scorr'"),
        ({"similarity": {"normalize": "yes"}},
         "quality.similarity.normalize: expected true or false, got 'yes'"),
        ({"refusal": {"threshold": 2}}, "quality.refusal.threshold: expected a number from 0 to 1"),
        ({"repetition": 0.3}, "quality.repetition: expected a mapping, got float"),
    ],
)  # fmt: skip
def test_validate_quality_errors(quality: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_quality(quality)
    assert message in str(info.value)


def test_unknown_key_suggests() -> None:
    with pytest.raises(ConfigError) as info:
        validate_quality({"similarty": {}})
    assert info.value.hint == "did you mean 'similarity'?"


def test_quality_schema_agrees_with_validation() -> None:
    import jsonschema

    from pytest_llmguard.config.quality import QUALITY_SCHEMA

    good = {"similarity": {"scorer": "ratio", "normalize": True}, "refusal": {"threshold": 1}}
    jsonschema.validate(good, QUALITY_SCHEMA)
    validate_quality(good)
    bads: list[dict[str, Any]] = [
        {"similarity": {"scorer": "x"}},
        {"nope": {}},
        {"repetition": {"threshold": 2}},
    ]
    for bad in bads:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, QUALITY_SCHEMA)
        with pytest.raises(ConfigError):
            validate_quality(bad)


@pytest.mark.parametrize("output", ["", "   \n"])
def test_an_empty_output_never_passes_a_check_silently(output: str) -> None:
    case = _case(
        "empty",
        None,
        None,
        ("no_pii", True),
        ("not_refusal", True),
        ("max_output_tokens", 50),
        ("not_contains", "lifetime"),
        ("max_repetition", 0.3),
        ("no_pii", False),
    )
    (scored,) = score_batch([case], [_obs(case, output)], QualitySettings())
    assert [c.passed for c in scored.checks] == [False, False, False, False, False, True]
    assert scored.checks[0].detail == "no_pii: the output is empty: nothing to check"
    assert scored.checks[-1].detail == "no_pii: disabled"
    assert scored.scores["empty"] == 1.0 and not scored.passed
    (unchecked,) = score_batch([PLAIN], [_obs(PLAIN, "hello")], QualitySettings())
    assert unchecked.passed
