"""A case sampled from production logs links back to its record in every report."""

from __future__ import annotations

import json

from pytest_llmguard.outcome import CaseRegression, Outcome
from pytest_llmguard.records import Case, Message, Observation, Provenance, ScoredObservation
from pytest_llmguard.report import render_json
from pytest_llmguard.report.markdown import render_markdown

ORIGIN = Provenance(
    file="logs/app.jsonl",
    line=17,
    format="openai-jsonl",
    request_id="chatcmpl-0012",
    timestamp="2025-05-01T14:00:00.000Z",
)
CASE = Case(
    set_name="app",
    set_path="logs/app.jsonl",
    id="summarise-my-last-three-orders-615523d4d2",
    messages=(Message("user", "Summarise my last three orders"),),
    expected="You ordered a blender, two filters and a kettle.",
    tags=("logs",),
    line=17,
    provenance=ORIGIN,
)


def _outcome() -> Outcome:
    observation = Observation(
        case_key=CASE.key,
        target="candidate",
        repeat_index=0,
        model="m",
        output="No idea.",
        latency_ms=10.0,
    )
    return Outcome(
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:01+00:00",
        duration_s=1.0,
        config_path=None,
        summaries={},
        comparisons=(),
        verdict="fail",
        scored=(ScoredObservation(observation),),
        cases={CASE.key: CASE},
        targets={},
        regressions=(
            CaseRegression(
                CASE.key, "now fails: similarity", CASE.expected or "", "No idea.", 0.1, "d"
            ),
        ),
    )


def test_json_report_cases_carry_their_provenance() -> None:
    (entry,) = json.loads(render_json(_outcome()))["cases"]
    assert entry["provenance"] == {
        "file": "logs/app.jsonl",
        "line": 17,
        "format": "openai-jsonl",
        "request_id": "chatcmpl-0012",
        "timestamp": "2025-05-01T14:00:00.000Z",
    }


def test_markdown_regressed_case_names_its_record() -> None:
    text = render_markdown(_outcome())
    assert "(from logs/app.jsonl:17 (request chatcmpl-0012))" in text


def test_case_provenance_round_trips() -> None:
    assert Case.from_dict(CASE.to_dict()) == CASE
    assert Provenance.from_dict(ORIGIN.to_dict()) == ORIGIN
