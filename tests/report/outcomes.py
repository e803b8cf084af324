"""Outcomes made from plain data, judged by the real verdict path (``verdict.assess``).

For report and publishing tests that need a failing gate without running pytest.
"""

from __future__ import annotations

from pytest_llmguard.budgets import Budget, Delta
from pytest_llmguard.config.records import GateConfig
from pytest_llmguard.outcome import BaselineInfo, Outcome
from pytest_llmguard.records import CheckResult, ErrorRecord, Observation, ScoredObservation
from pytest_llmguard.summary import summarize
from pytest_llmguard.verdict import Baseline, assess

BUDGETS = (
    Budget("latency_p95_ms", max_increase=Delta(0.15, relative=True)),
    Budget("check_pass_rate", min=0.95),
    Budget("error_rate", max=0.02),
)


def _scored(
    key: str, target: str, output: str, passed: bool, latency: float, **extra: object
) -> ScoredObservation:
    detail = 'contains "30 days": found' if passed else 'contains "30 days": not found in output'
    obs = Observation(
        key,
        target,
        0,
        "m-" + target,
        output,
        latency,
        input_tokens=20,
        output_tokens=10,
        cost_usd=0.001,
        **extra,  # type: ignore[arg-type]
    )
    return ScoredObservation(obs, (CheckResult("contains", passed, detail),), {"similarity": 1.0})


def failing_outcome(
    n: int = 30,
    *,
    candidate_output: str = "You can ask for a refund within 60 days of purchase.",
    set_path: str = "golden_sets/support.yaml",
    cached: int = 0,
    errors: int = 0,
    git: dict[str, str | None] | None = None,
) -> Outcome:
    """``n`` cases; the candidate is slower and fails every case's check (a failing gate)."""
    base = "You can ask for a refund within 30 days of purchase."
    baseline = [
        _scored(f"{set_path}::case-{i}", "baseline", base, True, 100.0 + i) for i in range(n)
    ]
    candidate = []
    for i in range(n):
        extra: dict[str, object] = {"cached": i < cached}
        if i >= n - errors:
            extra["error"] = ErrorRecord("server_error", "HTTP 503 from the endpoint", 503)
        candidate.append(
            _scored(
                f"{set_path}::case-{i}", "candidate", candidate_output, False, 200.0 + i, **extra
            )
        )
    summaries = {
        "baseline": summarize("baseline", "sim", "m-baseline", baseline),
        "candidate": summarize("candidate", "sim", "m-candidate", candidate),
    }
    judgement = assess(
        summaries,
        baseline + candidate,
        budgets=BUDGETS,
        gate=GateConfig(min_cases=5),
        candidate="candidate",
        baseline=Baseline(
            BaselineInfo("target", "baseline", "baseline", "m-baseline"),
            summaries["baseline"],
            tuple(baseline),
        ),
        notes=["a note"],
    )
    return Outcome(
        started_at="2026-01-01T00:00:00+00:00",
        finished_at="2026-01-01T00:00:12+00:00",
        duration_s=12.3,
        config_path="llmguard.yaml",
        summaries=judgement.summaries,
        comparisons=judgement.comparisons,
        verdict=judgement.verdict,
        scored=tuple(baseline + candidate),
        cases={},
        targets={},
        notes=judgement.notes,
        regressions=judgement.regressions,
        baseline=judgement.baseline,
        candidate=judgement.candidate,
        git=git or {"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "feature"},
    )
