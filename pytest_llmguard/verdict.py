"""The one verdict path: budgets applied to a run's summaries, whoever asks.

The pytest run, ``llmguard diff`` and the drift check all call :func:`assess` with the
run's per-target summaries and observations, the side to judge against (a target of the
same run or a saved run) and the budgets, and get one ``Judgement``: the comparisons, the
worst regressed cases and the overall verdict. Nothing else decides a verdict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmguard.absolute import check_absolute
from pytest_llmguard.budgets import Budget
from pytest_llmguard.config.records import GateConfig
from pytest_llmguard.gate import compare
from pytest_llmguard.outcome import BaselineInfo, CaseRegression, Comparison, Judgement, Verdict
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.regressions import find_regressions
from pytest_llmguard.summary import RunSummary


@dataclass(frozen=True, slots=True)
class Baseline:
    """The side a candidate is judged against: a target of this run or a saved run's target."""

    info: BaselineInfo
    summary: RunSummary
    scored: tuple[ScoredObservation, ...]
    # Only these cases are compared (the production baseline covers the log cases only).
    cases: frozenset[str] | None = None


def overall_verdict(comparisons: Sequence[Comparison]) -> Verdict:
    """fail > warn > pass; only skips → skip; no comparisons at all → pass."""
    verdicts = {c.verdict for c in comparisons}
    order: tuple[Verdict, ...] = ("fail", "warn", "pass")
    for v in order:
        if v in verdicts:
            return v
    return "skip" if verdicts else "pass"


def by_target(scored: Sequence[ScoredObservation]) -> dict[str, list[ScoredObservation]]:
    """Observations grouped by the target that made them, in their order."""
    grouped: dict[str, list[ScoredObservation]] = defaultdict(list)
    for s in scored:
        grouped[s.observation.target].append(s)
    return grouped


def estimated_notes(scored: Sequence[ScoredObservation]) -> list[str]:
    """Say which targets' token counts (and costs) are estimates, and how many."""
    counts: dict[str, list[int]] = {}
    for s in scored:
        o = s.observation
        if o.ok:
            count = counts.setdefault(o.target, [0, 0])
            count[0] += o.tokens_estimated
            count[1] += 1
    return [
        f"{target}: {n} of {total} responses reported no token usage; their token counts "
        "and cost are estimated at 4 characters a token (marked ~)"
        for target, (n, total) in counts.items()
        if n
    ]


def assess(
    summaries: Mapping[str, RunSummary],
    scored: Sequence[ScoredObservation],
    *,
    budgets: Sequence[Budget],
    gate: GateConfig,
    candidate: str | None,
    baseline: Baseline | None,
    case_scopes: Mapping[str, Collection[str]] | None = None,
    notes: Sequence[str] = (),
) -> Judgement:
    """Judge ``candidate`` against ``baseline``, and the targets ``gate.targets`` names by
    their absolute bounds.

    ``summaries`` are this run's targets; ``scored`` their observations (for the worst
    regressed cases). A candidate without a baseline is judged by its absolute bounds, and
    each relative budget says it needs a baseline. Without a candidate (several targets,
    no ``compare``) every target is judged that way. A baseline that is a target of this
    run is not gated itself, nor is any other target (exploratory: reported, not gated)
    unless ``gate.targets`` lists it. ``notes`` are carried into the judgement, followed
    by what this function adds.
    """
    said = list(notes)
    said.extend(estimated_notes(scored))
    comparisons: list[Comparison] = []
    cand = summaries.get(candidate) if candidate else None
    if baseline is not None and cand is not None:
        comparisons.extend(
            compare(
                baseline.summary,
                cand,
                budgets,
                gate,
                case_scopes=case_scopes,
                baseline_label=baseline.info.label,
                case_filter=baseline.cases.__contains__ if baseline.cases is not None else None,
            )
        )
        if baseline.info.source == "production":
            said.extend(_unpaired_note(comparisons))
    elif baseline is not None and candidate:
        said.append(f"no comparison: candidate target '{candidate}' did not run")
    compared = {candidate} if comparisons else set()
    exploratory = []
    if comparisons and baseline is not None and baseline.info.source == "target":
        compared.add(baseline.info.target)
    if baseline is not None and baseline.info.source == "production":
        # What the logs recorded is reported next to the targets (its feedback_negative_rate
        # is only known there) and, like a baseline target, never gated itself.
        summaries = {**summaries, baseline.info.target: baseline.summary}
        compared.add(baseline.info.target)
    for name, summary in summaries.items():
        subject = candidate is None or name == candidate
        if name in compared or not (subject or name in gate.targets):
            if not subject and (baseline is None or name != baseline.info.target):
                exploratory.append(name)
            continue
        comparisons.extend(
            check_absolute(
                summary, budgets, gate, case_scopes=case_scopes, say_missing_baseline=subject
            )
        )
    if exploratory and budgets:
        said.append(
            f"not gated (outside compare): {', '.join(exploratory)}; "
            "list a target in gate.targets to gate it by its absolute bounds"
        )
    if budgets and not summaries:
        said.append("nothing was judged: no case of a gated target ran")
    regressions: tuple[CaseRegression, ...] = ()
    if candidate and baseline is not None and baseline.scored:
        mine = by_target(scored).get(candidate, [])
        regressions = find_regressions(baseline.scored, mine)
    return Judgement(
        summaries=summaries,
        comparisons=tuple(comparisons),
        notes=tuple(said),
        regressions=regressions,
        # Budgets with nothing to judge are no pass (an empty run, everything deselected).
        verdict=overall_verdict(comparisons) if comparisons or not budgets else "skip",
        baseline=baseline.info if baseline is not None else None,
        candidate=candidate if cand is not None else None,
        baseline_summary=baseline.summary if baseline is not None else None,
        baseline_scored=baseline.scored if baseline is not None else (),
    )


def _unpaired_note(comparisons: Sequence[Comparison]) -> list[str]:
    """Which comparisons with the logs could not pair case by case (said, not hidden)."""
    unpaired = sorted(
        {c.metric for c in comparisons if c.baseline is not None and c.interval and not c.paired}
    )
    if not unpaired:
        return []
    return [
        "compared unpaired with production (too few cases had the value on both sides): "
        + ", ".join(unpaired)
    ]
