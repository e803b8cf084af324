"""What a run decided: comparisons, regressed cases, the judgement and the whole outcome.

These are the records every report reads (terminal, JSON, Markdown, HTML, GitHub) and
never recomputes: ``verdict.assess`` makes a ``Judgement``; the session wraps it with the
run's facts into an ``Outcome``. Reports import this module and ``records``, never the
session or the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pytest_llmguard.budgets import Budget
from pytest_llmguard.metrics.textdiff import DiffSpan
from pytest_llmguard.records import Case, ScoredObservation

if TYPE_CHECKING:
    from pytest_llmguard.config import TargetConfig
    from pytest_llmguard.summary import RunSummary

Verdict = Literal["pass", "warn", "fail", "skip"]
VERDICTS: tuple[Verdict, ...] = ("pass", "warn", "fail", "skip")


@dataclass(frozen=True, slots=True)
class Comparison:
    """The judgement of one budget: values, change, interval, verdict and why."""

    metric: str
    scope: str
    baseline: str | None  # target name or saved-run label; None for absolute-only checks
    candidate: str
    baseline_value: float | None
    candidate_value: float | None
    delta: float | None
    delta_pct: float | None  # percent of the baseline value (22.0 means +22 %)
    interval: tuple[float, float] | None  # of the delta, in metric units
    budget: Budget
    verdict: Verdict
    reason: str
    n_paired: int
    n_baseline: int
    n_candidate: int
    cached_share: float | None
    paired: bool
    method: str | None = None  # how the interval was computed
    confidence: float | None = None  # two-sided level of the interval (a look's, when sequential)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "scope": self.scope,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "baseline_value": self.baseline_value,
            "candidate_value": self.candidate_value,
            "delta": self.delta,
            "delta_pct": self.delta_pct,
            "interval": None if self.interval is None else list(self.interval),
            "budget": self.budget.to_dict(),
            "verdict": self.verdict,
            "reason": self.reason,
            "n_paired": self.n_paired,
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "cached_share": self.cached_share,
            "paired": self.paired,
            "method": self.method,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Comparison:
        """Read back a comparison from a saved JSON report (for re-rendering)."""
        interval = d.get("interval")
        verdict = d["verdict"]
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r}")
        return cls(
            metric=d["metric"],
            scope=d.get("scope", "all"),
            baseline=d.get("baseline"),
            candidate=d["candidate"],
            baseline_value=d.get("baseline_value"),
            candidate_value=d.get("candidate_value"),
            delta=d.get("delta"),
            delta_pct=d.get("delta_pct"),
            interval=None if interval is None else (interval[0], interval[1]),
            budget=Budget.from_dict(d["budget"]),
            verdict=verdict,
            reason=d.get("reason", ""),
            n_paired=int(d.get("n_paired") or 0),
            n_baseline=int(d.get("n_baseline") or 0),
            n_candidate=int(d.get("n_candidate") or 0),
            cached_share=d.get("cached_share"),
            paired=bool(d.get("paired", False)),
            method=d.get("method"),
            confidence=d.get("confidence"),
        )


@dataclass(frozen=True, slots=True)
class CaseRegression:
    """A case that got worse from baseline to candidate, with a short word diff.

    ``diff`` is the diff as text (``[-old-]{+new+}``, for the JSON report and terminals);
    ``spans`` is the same diff as structured spans, which the PR comment and the HTML
    report mark up (and escape) in their own medium.
    """

    case_key: str
    reason: str
    baseline_output: str
    candidate_output: str
    output_similarity: float  # baseline output vs candidate output, 0..1
    diff: str
    spans: tuple[DiffSpan, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_key,
            "reason": self.reason,
            "output_similarity": round(self.output_similarity, 4),
            "diff": self.diff,
            "diff_spans": [s.to_list() for s in self.spans],
            "baseline_output": self.baseline_output,
            "candidate_output": self.candidate_output,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseRegression:
        return cls(
            case_key=str(d["case"]),
            reason=str(d.get("reason", "")),
            baseline_output=str(d.get("baseline_output", "")),
            candidate_output=str(d.get("candidate_output", "")),
            output_similarity=float(d.get("output_similarity") or 0.0),
            diff=str(d.get("diff", "")),
            spans=tuple(DiffSpan.from_list(s) for s in d.get("diff_spans") or ()),
        )


@dataclass(frozen=True, slots=True)
class BaselineInfo:
    """What the candidate was compared with, said plainly in every report.

    ``source`` is ``target`` (a target replayed in this run), ``saved`` (a saved run:
    ``label`` is its path or run id, ``target`` the target inside it) or ``production``
    (what the logs recorded for the sampled cases: ``label`` names the log files).
    """

    source: Literal["target", "saved", "production"]
    label: str
    target: str
    model: str
    commit: str | None = None
    started_at: str | None = None

    def describe(self) -> str:
        if self.source == "target":
            return f"target {self.target} ({self.model})"
        if self.source == "production":
            return f"production logs {self.label} (as logged by {self.model})"
        origin = f", commit {self.commit[:12]}" if self.commit else ""
        when = f", {self.started_at}" if self.started_at else ""
        return f"saved run {self.label}: target {self.target} ({self.model}{origin}{when})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "label": self.label,
            "target": self.target,
            "model": self.model,
            "commit": self.commit,
            "started_at": self.started_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BaselineInfo:
        source = d.get("source")
        if source not in ("target", "saved", "production"):
            raise ValueError(f"unknown baseline source {source!r}")
        return cls(
            source=source,
            label=str(d.get("label", "")),
            target=str(d.get("target", "")),
            model=str(d.get("model", "")),
            commit=d.get("commit"),
            started_at=d.get("started_at"),
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    """Per-target summaries, the budget comparisons made from them, and the verdict."""

    summaries: Mapping[str, RunSummary]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]
    regressions: tuple[CaseRegression, ...] = ()
    verdict: Verdict = "pass"
    baseline: BaselineInfo | None = None
    candidate: str | None = None
    # The baseline side itself, for reports that chart it: its summary and observations
    # (a target of this run: the same objects as in ``summaries``/``scored``).
    baseline_summary: RunSummary | None = None
    baseline_scored: tuple[ScoredObservation, ...] = ()


def unjudged(verdict: Verdict, incomplete: Sequence[str]) -> Verdict:
    """The verdict of a run that did not judge everything it set out to: never ``pass``.

    What was not judged cannot pass: a ``pass`` becomes ``skip`` (a ``fail``, ``warn`` or
    ``skip`` found on the part that was judged stays).
    """
    return "skip" if incomplete and verdict == "pass" else verdict


def with_failed_items(verdict: Verdict, failed_items: int) -> Verdict:
    """The run's verdict once its case items are counted: a case that failed its checks
    (or its call) fails the run as it fails pytest's exit status, whatever the budgets say.
    """
    return "fail" if failed_items > 0 else verdict


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything the reports show; renderers read it and never recompute.

    ``incomplete`` lists why the run did not judge everything it set out to (an
    interrupt, a crashed engine or call process, a lost xdist worker, results that could
    not be judged, a collection error, budget items selected without the cases they
    judge); empty for a complete run. Every report leads with it, a save of such
    a run is never a baseline, the exit status is non-zero, and the verdict is never
    ``pass`` (:func:`unjudged`). ``partial`` says the run was interrupted (Ctrl-C,
    SIGTERM); ``unwritten`` names the report files that could not be written.
    """

    started_at: str
    finished_at: str
    duration_s: float
    config_path: str | None
    summaries: Mapping[str, RunSummary]
    comparisons: tuple[Comparison, ...]
    verdict: Verdict
    scored: tuple[ScoredObservation, ...]
    cases: Mapping[str, Case]
    targets: Mapping[str, TargetConfig]
    notes: tuple[str, ...] = ()
    regressions: tuple[CaseRegression, ...] = ()
    judge: Mapping[str, Any] | None = None  # the judge's own calls and cost, kept apart
    partial: bool = False
    reports_written: tuple[str, ...] = field(default=())
    baseline: BaselineInfo | None = None
    candidate: str | None = None
    git: Mapping[str, str | None] = field(default_factory=dict)  # commit, branch
    shard: tuple[int, int] | None = None  # (index, count) of a --llmguard-shard run
    inputs_digest: str | None = None  # of the config, golden sets, models (shards agree)
    config_digest: str | None = None  # of the config file alone (merge judges with it)
    incomplete: tuple[str, ...] = ()
    unwritten: tuple[str, ...] = ()
    # Case items (pytest tests of one case x target) that failed in this run: each one
    # fails the run (exit 1), so the verdict is ``fail`` (:func:`with_failed_items`).
    failed_items: int = 0
    # What ``baseline`` describes, when known (see Judgement); a saved run re-rendered
    # from its JSON has the baseline's summary and observations only if it was a target.
    baseline_summary: RunSummary | None = None
    baseline_scored: tuple[ScoredObservation, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the run judged everything it set out to (not interrupted, nothing lost)."""
        return not self.partial and not self.incomplete
