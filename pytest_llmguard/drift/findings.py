"""What a drift check found: the records every drift report and alert reads.

A ``Finding`` is one kind of drift on one target (a metric shift, a silent change of
outputs, a trend, a control-chart excursion, a production shift). Its ``key`` names the
kind stably from night to night, so alerts can tell "still there", "worse" and "gone";
its ``size`` is a number that grows as the drift worsens. ``verdict`` is ``fail`` (drift:
exit code 1, alerted) or ``warn`` (reported, not alerted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pytest_llmguard.outcome import Comparison

Kind = Literal["metric", "silent_change", "trend", "control", "production"]
DriftVerdict = Literal["drift", "warn", "ok", "first"]


@dataclass(frozen=True, slots=True)
class MovedCase:
    """A case whose output moved most tonight, with its outputs before and after."""

    case_key: str
    score: float  # how unusual tonight's distance is for this case (higher: more)
    distance: float  # tonight's mean distance to the reference outputs, 0..1
    usual: float  # the case's own usual distance between reference nights
    before: str
    after: str
    diff: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_key,
            "score": round(self.score, 4),
            "distance": round(self.distance, 4),
            "usual": round(self.usual, 4),
            "before": self.before,
            "after": self.after,
            "diff": self.diff,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of drift on one target, in words and numbers."""

    kind: Kind
    target: str
    subject: str  # the metric, "outputs", or the production field
    verdict: Literal["fail", "warn"]
    title: str  # one line, for alerts and listings
    detail: str = ""  # how it was decided (the statistic, the threshold)
    size: float = 0.0  # grows as the drift worsens (alerts re-fire when it grows enough)
    cases: tuple[MovedCase, ...] = ()

    @property
    def key(self) -> str:
        """Stable name of this kind of drift: ``metric:candidate:latency_p95_ms``."""
        return f"{self.kind}:{self.target}:{self.subject}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "target": self.target,
            "subject": self.subject,
            "verdict": self.verdict,
            "title": self.title,
            "detail": self.detail,
            "size": self.size,
            "cases": [c.to_dict() for c in self.cases],
        }


@dataclass(frozen=True, slots=True)
class TargetCheck:
    """What the check compared for one target, and the gate's comparisons it made."""

    target: str
    model: str
    reference: tuple[str, ...]  # labels of the reference nights
    comparisons: tuple[Comparison, ...] = ()
    tests: tuple[str, ...] = ()  # what was tested, in words (with false-alarm rates)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftResult:
    """The whole nightly decision: findings per target, what was tested, what was skipped."""

    checks: tuple[TargetCheck, ...]
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()  # history warnings and everything worth saying
    production: Mapping[str, Any] | None = None  # the production windows' tests, if run
    nights: int = 0  # nights in the history before tonight
    alerts: tuple[str, ...] = ()  # what alerting did (sent, spooled, suppressed)
    alerts_failed: bool = False  # an alert could not be delivered (spooled): exit 1
    saved: str | None = None  # where tonight was stored
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> DriftVerdict:
        if any(f.verdict == "fail" for f in self.findings):
            return "drift"
        if self.findings:
            return "warn"
        if not any(c.reference for c in self.checks):
            return "first"
        return "ok"

    @property
    def failed(self) -> bool:
        """Whether the check sets exit code 1: drift found, or an alert not delivered."""
        return self.verdict == "drift" or self.alerts_failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "nights": self.nights,
            "findings": [f.to_dict() for f in self.findings],
            "targets": [
                {
                    "target": c.target,
                    "model": c.model,
                    "reference": list(c.reference),
                    "comparisons": [x.to_dict() for x in c.comparisons],
                    "tests": list(c.tests),
                    "notes": list(c.notes),
                }
                for c in self.checks
            ],
            "production": dict(self.production) if self.production is not None else None,
            "notes": list(self.notes),
            "alerts": list(self.alerts),
            "alerts_failed": self.alerts_failed,
            "saved": self.saved,
        }
