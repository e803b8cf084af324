"""A replayed redacted output: checks that need the raw text are not re-checkable (never a
silent pass or fail), shape checks keep their result, and the pass rate leaves it out."""

from __future__ import annotations

from dataclasses import replace

from pytest_llmguard.config.records import QualitySettings, RedactConfig, RedactPattern
from pytest_llmguard.privacy.artefacts import redact_case, redact_observation
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case, Check, Message, Observation, ScoredObservation
from pytest_llmguard.scoring import score_batch
from pytest_llmguard.summary import summarize

CASE = Case(
    "s",
    "s.yaml",
    "c1",
    (Message("user", "Mail alice@example.com about CUST-123456"),),
    expected="We wrote to alice@example.com.",
    checks=(Check("no_pii", True), Check("contains", "wrote"), Check("max_output_tokens", 1)),
)
RAW = "We wrote to alice@example.com."


def _obs(output: str, *, cached: bool = False) -> Observation:
    return Observation(CASE.key, "t", 0, "m", output, 10.0, output_tokens=9, cached=cached)


def test_a_fresh_output_is_scored_raw_and_a_redacted_replay_is_not_rechecked() -> None:
    redactor = Redactor.of(RedactConfig(("email",), (RedactPattern("customer_id", r"CUST-\d{6}"),)))
    (fresh,) = score_batch([CASE], [_obs(RAW)], QualitySettings())
    assert [c.passed for c in fresh.checks] == [False, True, False]  # no_pii caught the leak
    stored = redact_observation(_obs(RAW, cached=True), redactor)
    assert stored.output == "We wrote to [REDACTED:email]." and stored.redacted == ("email",)
    (replayed,) = score_batch([CASE], [stored], QualitySettings())
    no_pii, contains, tokens = replayed.checks
    assert no_pii.unchecked and contains.unchecked and "not re-checkable" in no_pii.detail
    assert no_pii.passed and not tokens.unchecked and not tokens.passed  # a shape check stays
    assert replayed.scores["pii"] is None
    only_text = replace_checks(stored)
    assert only_text.passed
    summary = summarize("t", "sim", "m", [only_text, fresh])
    assert summary.metrics["check_pass_rate"] == 0.0  # the unknown one is left out, not a pass


def replace_checks(stored: Observation) -> ScoredObservation:
    case = replace(CASE, checks=(Check("no_pii", True),))
    (scored,) = score_batch([case], [stored], QualitySettings())
    return scored


def test_a_case_is_redacted_with_its_custom_ids_and_check_arguments() -> None:
    redactor = Redactor.of(RedactConfig(("email",), (RedactPattern("customer_id", r"CUST-\d{6}"),)))
    case = redact_case(CASE, redactor)
    assert case.messages[0].content == "Mail [REDACTED:email] about [REDACTED:customer_id]"
    assert case.expected == "We wrote to [REDACTED:email]."
    assert Redactor.of(RedactConfig()).redact(RAW).text == RAW  # not set: nothing changes
    # overlapping matches of a kind and a pattern are one redaction
    both = Redactor(("email",), [("local", r"alice@\w+")]).redact("to alice@example.com!")
    assert both.text == "to [REDACTED:email]!" and both.kinds == ("email",)


def test_log_samples_keep_every_pii_kind_when_only_patterns_are_listed() -> None:
    only_ids = RedactConfig((), (RedactPattern("customer_id", r"CUST-\d{6}"),))
    out = Redactor.for_logs(only_ids).redact("alice@example.com CUST-123456 +44 20 7946 0958")
    assert out.kinds == ("customer_id", "email", "phone")
    assert not Redactor.of(only_ids).redact("alice@example.com").kinds  # a run: as listed
