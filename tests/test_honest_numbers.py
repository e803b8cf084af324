"""Honest numbers when data is missing (issue #16): unknown cost stays unknown, tokens
without usage are estimated and marked, and error text says each thing once."""

from __future__ import annotations

import asyncio
import json

import pytest

from pytest_llmguard.config import (
    GateConfig,
    Price,
    QualitySettings,
    RetryPolicy,
    RunConfig,
    TargetConfig,
)
from pytest_llmguard.items import failure_text
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.records import (
    Case,
    Check,
    ErrorRecord,
    Message,
    Observation,
    ScoredObservation,
)
from pytest_llmguard.report import render_json
from pytest_llmguard.report.terminal import render_terminal
from pytest_llmguard.runner import CallUnit, Engine, estimate_tokens
from pytest_llmguard.scoring import score_batch
from pytest_llmguard.summary import summarize
from pytest_llmguard.targets.credentials import MissingCredentials
from pytest_llmguard.targets.openai import OpenAIClient
from pytest_llmguard.verdict import assess
from tests.conftest import SimLog

CASE = Case(
    "s",
    "golden_sets/s.yaml",
    "refund",
    (
        Message("system", "You are terse."),
        Message("user", "How long do I have to ask for a refund?"),
    ),
    params={"max_tokens": 60},
    checks=(),
)


def _engine(client: object, **run: object) -> Engine:
    settings = RunConfig(concurrency=2, timeout_s=5, retries=RetryPolicy(max=0), **run)  # type: ignore[arg-type]
    return Engine({"t": client}, settings, pricing={"sim-stable": Price(1.0, 2.0)})  # type: ignore[dict-item]


def _observe(sim_url: str, fault: str | None, *, stream: bool) -> Observation:
    headers = {"x-sim-fault": fault} if fault else {}
    target = TargetConfig("t", "openai", "sim-stable", headers=headers, stream=stream)
    client = OpenAIClient(target, base_url=sim_url, api_key=None, timeout_s=5, max_connections=2)
    (obs,) = asyncio.run(_engine(client).run([CallUnit(CASE, "t")]))
    return obs


@pytest.mark.parametrize("stream", [True, False])
def test_a_response_without_usage_gets_estimated_and_marked_tokens(
    sim_url: str, stream: bool
) -> None:
    reported = _observe(sim_url, None, stream=stream)
    guessed = _observe(sim_url, "no_usage", stream=stream)
    assert reported.tokens_estimated is False and guessed.tokens_estimated is True
    assert guessed.output == reported.output
    assert guessed.input_tokens is not None and guessed.output_tokens is not None
    assert guessed.output_tokens == -(-len(guessed.output or "") // 4)
    assert guessed.cost_usd is not None  # priced from the estimate, not left unknown
    # the simulator counts ceil(chars / 4) too: the estimate is close to what it reports
    assert reported.input_tokens is not None and reported.output_tokens is not None
    assert abs(guessed.output_tokens - reported.output_tokens) <= 1
    assert abs(guessed.input_tokens - reported.input_tokens) <= 2 * 4 + 1


def test_estimated_tokens_round_trip_and_are_reported(sim_url: str) -> None:
    guessed = _observe(sim_url, "no_usage", stream=True)
    assert Observation.from_dict(guessed.to_dict()) == guessed
    (scored,) = score_batch([CASE], [guessed], QualitySettings())
    outcome = _outcome([scored])
    (entry,) = json.loads(render_json(outcome))["cases"]
    assert entry["tokens_estimated"] is True
    text = "\n".join(render_terminal(outcome))
    assert "t: 1 of 1 responses reported no token usage" in text
    row = next(line for line in text.splitlines() if line.startswith("t (sim-stable)"))
    assert row.count("~") == 4  # in tok, out tok, $/resp, $ total


def _outcome(scored: list[ScoredObservation]) -> Outcome:
    summaries = {"t": summarize("t", "openai", "sim-stable", scored)}
    judgement = assess(
        summaries, scored, budgets=(), gate=GateConfig(), candidate=None, baseline=None
    )
    return Outcome(
        started_at="2025-01-01T00:00:00+00:00",
        finished_at="2025-01-01T00:00:01+00:00",
        duration_s=1.0,
        config_path=None,
        summaries=judgement.summaries,
        comparisons=judgement.comparisons,
        verdict=judgement.verdict,
        scored=tuple(scored),
        cases={CASE.key: CASE},
        targets={},
        notes=judgement.notes,
    )


def test_max_output_tokens_says_it_estimates_when_usage_was_missing(sim_url: str) -> None:
    guessed = _observe(sim_url, "no_usage", stream=True)
    case = Case(CASE.set_name, CASE.set_path, CASE.id, CASE.messages, checks=())

    checked = Case(
        case.set_name,
        case.set_path,
        case.id,
        case.messages,
        checks=(Check("max_output_tokens", 500),),
    )
    (scored,) = score_batch([checked], [guessed], QualitySettings())
    assert "(estimated: 4 characters per token)" in scored.checks[0].detail


def test_when_every_call_fails_an_unpriced_total_is_unknown() -> None:
    failed = [
        ScoredObservation(
            Observation(
                CASE.key, "t", i, "local-model", None, None, error=ErrorRecord("timeout", "x")
            )
        )
        for i in range(3)
    ]
    summary = summarize("t", "openai", "local-model", failed)
    assert summary.metrics["cost_total_usd"] is None
    assert summary.metrics["cost_per_response_usd"] is None
    assert summary.metric("cost_total_usd", [CASE.key]) is None
    text = "\n".join(render_terminal(_outcome(failed)))
    assert "$0" not in text


def test_error_text_names_the_status_once() -> None:
    obs = Observation(
        CASE.key, "t", 0, "m", None, None, attempts=1,
        error=ErrorRecord("client_error", "HTTP 400: Invalid request.", 400),
    )  # fmt: skip
    text = failure_text(CASE, [ScoredObservation(obs)], 1)
    assert text == "call failed after 1 attempt(s): client_error: HTTP 400: Invalid request."
    bare = Observation(
        CASE.key, "t", 0, "m", None, None, attempts=2,
        error=ErrorRecord("server_error", "upstream went away", 503),
    )  # fmt: skip
    text = failure_text(CASE, [ScoredObservation(bare)], 1)
    assert text == "call failed after 2 attempt(s): server_error (HTTP 503): upstream went away"


def test_a_missing_key_is_not_a_failed_attempt(sim_log: SimLog) -> None:
    target = TargetConfig("t", "openai", "sim-stable", api_key_env="LLMGUARD_UNSET_KEY")
    client = MissingCredentials(target, "environment variable LLMGUARD_UNSET_KEY is not set")
    (obs,) = asyncio.run(_engine(client).run([CallUnit(CASE, "t")]))
    assert obs.attempts == 0 and obs.error is not None and obs.error.cls == "client_error"
    text = failure_text(CASE, [ScoredObservation(obs)], 1)
    assert text == "not called: client_error: environment variable LLMGUARD_UNSET_KEY is not set"
    assert sim_log.requests() == []


def test_not_called_is_said_once() -> None:
    obs = Observation(
        CASE.key, "t", 0, "m", None, None, attempts=0,
        error=ErrorRecord("budget_exhausted", "not called: run.max_cost_usd=1 would be exceeded"),
    )  # fmt: skip
    text = failure_text(CASE, [ScoredObservation(obs)], 1)
    assert text == "not called: budget_exhausted: run.max_cost_usd=1 would be exceeded"


def test_estimate_tokens() -> None:
    assert estimate_tokens(CASE, "") == (-(-(14 + 39) // 4) + 8, 0)
    assert estimate_tokens(CASE, "abcde") == (-(-(14 + 39) // 4) + 8, 2)
