"""The nightly decision: tonight's run against its history, target by target.

For each target that ran tonight, the reference is the newest ``drift.reference_runs``
nights in which the same target ran the same model (a model change starts a new
history). Then, each its own module:

- metric shifts (here): the reference nights' observations pooled as one baseline (each
  night a repeat of every case, so comparisons stay paired by case) and judged by
  ``verdict.assess`` against ``drift.budgets`` -- the gate's own statistics;
- silent changes (``outputs``): per-case output drift, one test over all cases;
- trends and control charts (``trends``) over the nights' digests;
- production windows (``production``), when production records are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmguard.budgets import Budget, scopes_of
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.config.records import Config
from pytest_llmguard.drift.findings import DriftResult, Finding, TargetCheck
from pytest_llmguard.drift.history import History, Night, SampleReader
from pytest_llmguard.drift.night import NightSamples, case_fingerprint
from pytest_llmguard.drift.outputs import first_outputs, output_test
from pytest_llmguard.drift.production import ProductionRecord, production_drift, window_notes
from pytest_llmguard.drift.trends import (
    control_continuous,
    control_rate,
    judge_trend,
    sampling_error,
    tail_probability,
)
from pytest_llmguard.outcome import BaselineInfo, Comparison
from pytest_llmguard.records import Case, ScoredObservation
from pytest_llmguard.summary import METRICS, RunSummary, summarize
from pytest_llmguard.verdict import Baseline, assess, by_target

# When neither drift.budgets nor budgets is configured: a night may differ from the
# week before by this much before it counts as a shift.
DEFAULT_BUDGETS: tuple[Budget, ...] = parse_budgets(
    {
        "latency_p95_ms": {"max_increase": "15%"},
        "cost_per_response_usd": {"max_increase": "10%"},
        "output_tokens_mean": {"max_increase": "15%"},
        "error_rate": {"max_increase": 0.01},
        "similarity_mean": {"max_decrease": 0.03},
        "check_pass_rate": {"max_decrease": 0.03},
    }
)
_NIGHT = 1000  # repeat stride of a reference night in the pooled baseline


def drift_budgets(config: Config) -> tuple[Budget, ...]:
    """``drift.budgets``, else the gate's ``budgets``, else ``DEFAULT_BUDGETS``."""
    if config.drift.budgets is not None:
        return config.drift.budgets
    return config.budgets or DEFAULT_BUDGETS


@dataclass(frozen=True)
class Tonight:
    """Tonight's run as the check needs it."""

    started_at: float
    summaries: Mapping[str, RunSummary]
    scored: Sequence[ScoredObservation]
    cases: Mapping[str, Case]

    def fingerprints(self) -> dict[str, str]:
        return {key: case_fingerprint(case) for key, case in self.cases.items()}


def check_drift(
    config: Config,
    tonight: Tonight,
    history: History,
    reader: SampleReader,
    *,
    production: Iterable[ProductionRecord] | None = None,
    production_now: float | None = None,
) -> DriftResult:
    """Judge tonight against ``history`` (which must not contain tonight)."""
    grouped = by_target(tonight.scored)
    fingerprints = tonight.fingerprints()
    checks: list[TargetCheck] = []
    findings: list[Finding] = []
    for name, summary in tonight.summaries.items():
        check, found = _check_target(
            config, tonight, name, summary, grouped.get(name, []), fingerprints, history, reader
        )
        checks.append(check)
        findings.extend(found)
    notes = [*history.warnings, *reader.warnings]
    production_result = None
    if production is not None:
        settings = config.drift.production
        end = tonight.started_at if production_now is None else production_now
        prod = production_drift(production, settings, now=end)
        production_result = prod.to_dict()
        notes.extend(window_notes(prod, settings.min_rows))
        notes.append(f"production windows: {prod.correction}")
        notes.extend(f"production: not tested: {s}" for s in prod.skipped)
        findings.extend(
            Finding("production", "production", t.name, "fail", t.reason, size=t.size)
            for t in prod.drifted
        )
    return DriftResult(
        checks=tuple(checks),
        findings=tuple(findings),
        notes=tuple(notes),
        production=production_result,
        nights=len(history.nights),
    )


def _check_target(
    config: Config,
    tonight: Tonight,
    name: str,
    summary: RunSummary,
    scored: Sequence[ScoredObservation],
    fingerprints: Mapping[str, str],
    history: History,
    reader: SampleReader,
) -> tuple[TargetCheck, list[Finding]]:
    same_model = history.of_target(name, summary.model)
    notes: list[str] = []
    others = [n for n in history.of_target(name) if n not in same_model]
    if others and (not same_model or int(others[-1].ref.run_id) > int(same_model[-1].ref.run_id)):
        model = others[-1].digest.targets[name].model
        notes.append(
            f"{name}: model changed from {model} to {summary.model}: earlier nights are "
            "not its reference (a new history starts)"
        )
    reference = _reference(same_model, config.drift.reference_runs, notes, name)
    labels = tuple(n.label for n in reference)
    if not reference:
        notes.append(
            f"{name}: first night of {summary.model}; it becomes the reference of the next"
        )
        return TargetCheck(name, summary.model, (), notes=tuple(notes)), []
    samples: list[tuple[Night, NightSamples]] = []
    for night in reference:
        read = reader.read(night, repeat_base=len(samples) * _NIGHT)
        if read is not None and read.scored.get(name):
            samples.append((night, read))
    findings: list[Finding] = []
    tests: list[str] = []
    comparisons: tuple[Comparison, ...] = ()
    if samples:
        pooled: list[ScoredObservation] = []
        per_night = []
        for _, read in samples:
            same = [
                s
                for s in read.scored[name]
                if read.fingerprints.get(s.observation.case_key)
                in (None, fingerprints.get(s.observation.case_key))
            ]
            per_night.append(first_outputs(same))
            pooled.extend(same)
        scopes = {key: scopes_of(c) for key, c in tonight.cases.items()}
        pooled_summary = summarize(
            name, summary.provider, summary.model, pooled, case_scopes=scopes
        )
        comparisons, shift_findings, shift_test = _metric_shifts(
            config, name, summary, scored, pooled, pooled_summary, scopes, len(samples)
        )
        findings.extend(shift_findings)
        tests.append(shift_test)
        drift = config.drift
        test = output_test(
            first_outputs(scored),
            per_night,
            alpha=drift.output_alpha,
            min_reference=min(drift.output_min_reference, len(per_night)),
            top=drift.output_top,
        )
        tests.append("silent change: " + test.describe())
        if test.changed:
            findings.append(
                Finding(
                    "silent_change",
                    name,
                    "outputs",
                    "fail",
                    f"{name}: silent change: {summary.model} answers differently tonight "
                    f"({test.extreme} of {test.informative} varying cases moved beyond their "
                    f"usual variation, {test.expected:.1f} expected by chance)",
                    detail=test.describe(),
                    size=test.extreme / max(test.expected, 1.0),
                    cases=test.moved,
                )
            )
        control_findings, control_test = _control(
            config, summary, pooled_summary, [n for n, _ in samples]
        )
        findings.extend(control_findings)
        tests.append(control_test)
    trend_findings, trend_test = _trends(config, tonight, name, summary, same_model)
    findings.extend(trend_findings)
    tests.append(trend_test)
    check = TargetCheck(name, summary.model, labels, comparisons, tuple(tests), tuple(notes))
    return check, findings


def _reference(nights: Sequence[Night], size: int, notes: list[str], name: str) -> list[Night]:
    """The reference nights, newest first: the newest ``size`` not judged as drift.

    A drifted night is not "normal", so it does not move the reference: a step change
    stays found night after night (alerted once) instead of being absorbed in a few
    nights. Once the newest ``size`` nights all drifted the same way, the change has
    lasted a whole reference window and they become the reference (said in a note).
    """
    recent = list(nights[-size:])
    if len(recent) == size and all(n.digest.verdict == "drift" for n in recent):
        notes.append(
            f"{name}: drift found on each of the last {size} nights: they are now the "
            "reference (a lasting change is accepted as the new normal)"
        )
        return list(reversed(recent))
    normal = [n for n in nights if n.digest.verdict != "drift"]
    return list(reversed(normal[-size:]))


def _metric_shifts(
    config: Config,
    name: str,
    summary: RunSummary,
    scored: Sequence[ScoredObservation],
    pooled: Sequence[ScoredObservation],
    base: RunSummary,
    scopes: Mapping[str, frozenset[str]],
    nights: int,
) -> tuple[tuple[Comparison, ...], list[Finding], str]:
    label = f"{nights} reference night{'s' if nights != 1 else ''}"
    info = BaselineInfo("saved", label, name, summary.model)
    judgement = assess(
        {name: summary},
        scored,
        budgets=drift_budgets(config),
        gate=config.gate,
        candidate=name,
        baseline=Baseline(info, base, tuple(pooled)),
        case_scopes=scopes,
    )
    findings = [
        Finding(
            "metric",
            name,
            c.metric if c.scope == "all" else f"{c.metric}[{c.scope}]",
            c.verdict,
            f"{name}: {c.reason}",
            detail=f"against the pooled {label} ({c.method or 'point estimate'})",
            size=abs(c.delta / c.baseline_value)
            if c.delta is not None and c.baseline_value
            else abs(c.delta or 0.0),
        )
        for c in judgement.comparisons
        if c.verdict in ("fail", "warn")
    ]
    test = (
        f"metric shifts: {len(judgement.comparisons)} budget checks against the {label} "
        f"pooled (paired by case; intervals at {config.gate.confidence:g})"
    )
    return judgement.comparisons, findings, test


def _control(
    config: Config, summary: RunSummary, pooled: RunSummary, nights: Sequence[Night]
) -> tuple[list[Finding], str]:
    k = config.drift.control_k
    findings: list[Finding] = []
    for metric in config.drift.control_metrics:
        mdef = METRICS[metric]
        value = summary.metrics.get(metric)
        if value is None:
            continue
        if mdef.kind == "rate":
            vt = summary.sample_values(mdef.sample)[0]
            vr = pooled.sample_values(mdef.sample)[0]
            bad_t = int(vt.sum()) if mdef.higher_is_worse else int(vt.size - vt.sum())
            bad_r = int(vr.sum()) if mdef.higher_is_worse else int(vr.size - vr.sum())
            verdict = control_rate(mdef, (bad_t, vt.size), (bad_r, vr.size), len(nights), k)
        else:
            ref = [
                v
                for n in nights
                if (v := n.digest.targets[summary.target].metrics.get(metric)) is not None
            ]
            own = sampling_error(mdef, summary.sample_values(mdef.sample)[0])
            verdict = control_continuous(mdef, value, ref, k, own)
        if verdict is not None and verdict.beyond:
            findings.append(
                Finding(
                    "control",
                    summary.target,
                    metric,
                    "fail",
                    f"{summary.target}: {verdict.reason}",
                    detail=f"control chart, k = {k:g}",
                    size=verdict.size,
                )
            )
    tail = tail_probability(k)
    test = (
        f"control chart: {', '.join(config.drift.control_metrics)} beyond mean + {k:g} sigma "
        f"of {len(nights)} nights ({tail:.3%} false alarms per metric and night)"
    )
    return findings, test


def _trends(
    config: Config, tonight: Tonight, name: str, summary: RunSummary, nights: Sequence[Night]
) -> tuple[list[Finding], str]:
    window = nights[-(config.drift.trend_window - 1) :] if config.drift.trend_window > 1 else []
    findings: list[Finding] = []
    said: list[str] = []
    for budget in config.drift.trends:
        points = [
            (n.digest.started_at, v)
            for n in window
            if (v := n.digest.targets[name].metrics.get(budget.metric)) is not None
        ]
        value = summary.metrics.get(budget.metric)
        if value is not None:
            points.append((tonight.started_at, value))
        verdict = judge_trend(
            budget,
            [t / 86400.0 for t, _ in points],
            [v for _, v in points],
            confidence=config.gate.confidence,
            strict=config.gate.strict,
        )
        if verdict is None:
            continue
        said.append(verdict.reason)
        level = verdict.verdict
        if level == "fail" or level == "warn":
            findings.append(
                Finding(
                    "trend",
                    name,
                    budget.metric,
                    level,
                    f"{name}: {verdict.reason}",
                    detail="Theil-Sen slope with Sen's interval",
                    size=verdict.size,
                )
            )
    if not said:
        return findings, (
            f"trends: not judged yet ({len(window) + 1} nights; at least 5 over 2 days needed)"
        )
    return findings, "trends: " + "; ".join(said)
