"""The gate: compare a candidate's RunSummary with a baseline's against the budgets.

One Comparison per budget, each with a verdict and a plain-words reason:

- ``fail``: an absolute bound (``max``/``min``) is broken by the point estimate, or the
  confidence interval of the change lies entirely beyond a relative budget;
- ``warn``: the point estimate of the change is beyond the budget but the interval
  reaches back inside it (more data would settle it: ``adaptive`` decides on more looks);
- ``pass``: otherwise; ``gate.strict`` judges the point estimate alone (fail/pass);
- ``skip``: not enough evidence to judge (``gate.min_cases``, unknown cost, no samples).

Pairing: when at least ``min_cases`` cases ran on both sides, the comparison uses only
those matched cases, paired (values shown are over them too). Otherwise, with enough cases
on each side, it compares the two sides unpaired. Intervals: case-level bootstrap for
means, sums and percentiles; Newcombe score intervals for rates: paired or independent
when each case ran once per side, with counts scaled by the design effect of the
repeats when cases ran several times (``stats.clustered``). Intervals are at
``gate.confidence``; a sequential gate passes each look's level in as that.
Absolute bounds are checked on the candidate's value over all its in-scope cases.
``cost_total_usd`` compares totals over the compared cases, so unpaired runs of
different sizes differ in total for that reason alone: prefer ``cost_per_response_usd``.
A relative budget ("15%") is turned into metric units with the baseline's point value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .budget_cases import CaseKeys, cached_share
from .budgets import Budget
from .config.records import GateConfig
from .outcome import Comparison, Verdict
from .stats import (
    Interval,
    bootstrap_diffs,
    newcombe_clustered,
    newcombe_diff,
    newcombe_paired_diff,
    shared_draws,
)
from .summary import MetricDef, RunSummary
from .units import format_budget_delta, format_change, format_interval, format_value

# Combining the parts of one budget: a skipped part is worth saying unless something
# else is worse; across budgets overall_verdict ranks skip below pass instead.
_PART_RANK: Mapping[str, int] = {"pass": 0, "skip": 1, "warn": 2, "fail": 3}
TIMING_SAMPLES = ("latency_ms", "ttft_ms")


def relative_limits(budget: Budget, baseline_value: float) -> tuple[float | None, float | None]:
    """The permitted (increase, decrease) in metric units, both as non-negative sizes."""
    inc = None if budget.max_increase is None else budget.max_increase.limit(baseline_value)
    dec = None if budget.max_decrease is None else budget.max_decrease.limit(baseline_value)
    return inc, dec


def budget_verdict(point: float, near: float, limit: float, *, strict: bool) -> Verdict:
    """fail / warn / pass of a change against its limit, all in the budget's direction.

    ``point`` is the estimate, ``near`` the interval's end nearest to no change: the
    whole interval beyond the limit fails; the estimate alone beyond it warns (strict:
    the estimate alone decides).
    """
    if strict:
        return "fail" if point > limit else "pass"
    return "fail" if near > limit else "warn" if point > limit else "pass"


def worst_part(parts: Sequence[tuple[Verdict, str]]) -> tuple[Verdict, str]:
    if not parts:
        return "skip", "the budget sets no bounds"
    worst = max(parts, key=lambda p: _PART_RANK[p[0]])
    if worst[0] == "pass":
        return "pass", "; ".join(r for _, r in parts)
    return worst


def absolute_part(
    budget: Budget, value: float | None, n: int, gate: GateConfig, who: str
) -> tuple[Verdict, str]:
    mdef = budget.definition
    if value is None or n == 0:
        return "skip", f"no {mdef.sample} values for {who}"
    if n < gate.min_cases:
        return "skip", f"only {n} cases (min_cases {gate.min_cases})"
    if budget.max is not None and value > budget.max:
        return "fail", (
            f"{mdef.name} is {format_value(value, mdef.unit)}, above the max "
            f"{format_value(budget.max, mdef.unit)} (point estimate over {n} cases)"
        )
    if budget.min is not None and value < budget.min:
        return "fail", (
            f"{mdef.name} is {format_value(value, mdef.unit)}, below the min "
            f"{format_value(budget.min, mdef.unit)} (point estimate over {n} cases)"
        )
    bounds = []
    if budget.min is not None:
        bounds.append(f"min {format_value(budget.min, mdef.unit)}")
    if budget.max is not None:
        bounds.append(f"max {format_value(budget.max, mdef.unit)}")
    return "pass", f"{mdef.name} is {format_value(value, mdef.unit)}, within {' and '.join(bounds)}"


def relative_bounds(budget: Budget) -> str:
    unit = budget.definition.unit
    bounds = [
        f"{name} {format_budget_delta(delta, sign, unit)}"
        for name, sign, delta in (
            ("max_increase", "+", budget.max_increase),
            ("max_decrease", "-", budget.max_decrease),
        )
        if delta is not None
    ]
    return " and ".join(bounds)


@dataclass(frozen=True, slots=True)
class _IntervalRequest:
    """One budget's interval: which metric, over which cases, paired or not."""

    mdef: MetricDef
    keys_b: tuple[str, ...]
    keys_c: tuple[str, ...]
    paired: bool


def _intervals(
    requests: Sequence[_IntervalRequest],
    baseline: RunSummary,
    candidate: RunSummary,
    gate: GateConfig,
    n_resamples: int,
    seed: int,
) -> list[Interval]:
    """Every requested interval; bootstraps of the same values share one pass.

    Each interval is the one its budget would get alone: statistics of one sample over
    the same cases are resampled together, and every bootstrap with the same number of
    cases reuses the same seeded draws (see ``stats.shared_draws``).
    """
    out: dict[int, Interval] = {}
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], list[int]] = {}
    for i, req in enumerate(requests):
        vb, ib, kb = baseline.sample_values(req.mdef.sample, req.keys_b)
        vc, ic, kc = candidate.sample_values(req.mdef.sample, req.keys_c)
        if req.mdef.kind == "rate" and vb.size == len(kb) and vc.size == len(kc):
            out[i] = _rate_interval(vb, vc, req.paired, gate)
        elif req.mdef.kind == "rate":
            out[i] = newcombe_clustered(vb, ib, vc, ic, gate.confidence)
        else:
            groups.setdefault((req.mdef.sample, req.keys_b, req.keys_c, req.paired), []).append(i)
    with shared_draws():
        for (sample, keys_b, keys_c, paired), members in groups.items():
            vb, ib, _ = baseline.sample_values(sample, keys_b)
            vc, ic, _ = candidate.sample_values(sample, keys_c)
            stats = list(dict.fromkeys(requests[i].mdef.stat for i in members))
            found = bootstrap_diffs(
                vb,
                vc,
                stats,
                paired=paired,
                n_resamples=n_resamples,
                confidence=gate.confidence,
                seed=seed,
                baseline_cases=ib,
                candidate_cases=ic,
            )
            by_stat = dict(zip(stats, found, strict=True))
            for i in members:
                out[i] = by_stat[requests[i].mdef.stat]
    return [out[i] for i in range(len(requests))]


def _rate_interval(
    vb: np.ndarray[Any, Any], vc: np.ndarray[Any, Any], paired: bool, gate: GateConfig
) -> Interval:
    # Rates are 0/1 per observation: score intervals stay honest at 0 % and 100 %,
    # where a bootstrap collapses to a point.
    if paired:  # the same cases in the same order, so vb[i] and vc[i] are the same case
        both = int(np.sum(vb * vc))
        only_c = int(np.sum(vc * (1 - vb)))
        only_b = int(np.sum(vb * (1 - vc)))
        neither = vb.size - both - only_c - only_b
        return newcombe_paired_diff(both, only_c, only_b, neither, gate.confidence)
    return newcombe_diff(int(vc.sum()), vc.size, int(vb.sum()), vb.size, confidence=gate.confidence)


def _relative_part(
    budget: Budget,
    base: float,
    delta: float,
    interval: Interval,
    gate: GateConfig,
) -> tuple[Verdict, str]:
    mdef = budget.definition
    unit = mdef.unit
    verb = "rose" if delta > 0 else "fell" if delta < 0 else "did not change"
    span = f"interval {format_interval((interval.low, interval.high), unit, base)}"
    size = format_change(delta, unit, base).lstrip("+-")  # the verb carries the sign
    change = f"{mdef.name} {verb}" + ("" if delta == 0 else f" {size}")
    change += f", {format_value(base, unit)} → {format_value(base + delta, unit)}"
    if gate.strict:
        span = "strict: point estimate only"
    inc, dec = relative_limits(budget, base)
    needs_base = (budget.max_increase is not None and budget.max_increase.relative) or (
        budget.max_decrease is not None and budget.max_decrease.relative
    )
    if needs_base and base == 0 and delta != 0:
        return "skip", (
            f"{change} from a baseline of 0, where a relative budget is undefined; "
            f"add an absolute amount (e.g. max_increase: 0.01)"
        )
    parts: list[tuple[Verdict, str]] = []
    for limit, sign, delta_budget in (
        (inc, "+", budget.max_increase),
        (dec, "-", budget.max_decrease),
    ):
        if limit is None or delta_budget is None:
            continue
        budget_text = f"the {format_budget_delta(delta_budget, sign, unit)} budget"
        # Work in "size of the change in the budget's direction".
        point = delta if sign == "+" else -delta
        near = interval.low if sign == "+" else -interval.high
        verdict = budget_verdict(point, near, limit, strict=gate.strict)
        if verdict == "fail" and not gate.strict:
            text = f"{change} ({span}): entirely beyond {budget_text}"
        elif verdict == "fail":
            text = f"{change} ({span}): beyond {budget_text}"
        elif verdict == "warn":
            text = (
                f"{change} ({span}): beyond {budget_text}, but the interval reaches back inside it"
            )
        else:
            text = f"{change} ({span}): within {budget_text}"
        parts.append((verdict, text))
    verdict, text = worst_part(parts)
    if verdict == "pass" and len(parts) > 1:
        text = parts[0][1] + " and " + parts[1][1].split("): ", 1)[1]
    return verdict, text


@dataclass(slots=True)
class _Plan:
    """A budget's judgement while its interval waits to be computed with the others."""

    budget: Budget
    keys_b: list[str]
    keys_c: list[str]
    n_matched: int
    paired: bool
    cached: float | None = None
    base_value: float | None = None
    cand_value: float | None = None
    parts: list[tuple[Verdict, str]] = field(default_factory=list)
    request: int | None = None  # index of its interval request

    def comparison(
        self, label: str, candidate: str, intervals: Sequence[Interval], gate: GateConfig
    ) -> Comparison:
        budget, mdef = self.budget, self.budget.definition
        base_value, cand_value = self.base_value, self.cand_value
        iv = None if self.request is None else intervals[self.request]
        parts = list(self.parts)
        if iv is not None and base_value is not None and cand_value is not None:
            parts.append(_relative_part(budget, base_value, cand_value - base_value, iv, gate))
        verdict, reason = worst_part(parts)
        if self.cached and mdef.sample in TIMING_SAMPLES and verdict != "skip":
            reason += f"; note: {self.cached:.0%} of the timings came from the cache"
        delta_value = pct = None
        if base_value is not None and cand_value is not None:
            delta_value = cand_value - base_value
            pct = delta_value / abs(base_value) * 100 if base_value else None
        return Comparison(
            metric=budget.metric,
            scope=budget.scope,
            baseline=label,
            candidate=candidate,
            baseline_value=base_value,
            candidate_value=cand_value,
            delta=delta_value,
            delta_pct=pct,
            interval=None if iv is None else (iv.low, iv.high),
            budget=budget,
            verdict=verdict,
            reason=reason,
            n_paired=self.n_matched,
            n_baseline=len(self.keys_b),
            n_candidate=len(self.keys_c),
            cached_share=self.cached,
            paired=self.paired,
            method=None if iv is None else iv.method,
            confidence=None if iv is None else gate.confidence,
        )


def compare(
    baseline: RunSummary,
    candidate: RunSummary,
    budgets: Sequence[Budget],
    gate: GateConfig,
    *,
    case_filter: Callable[[str], bool] | None = None,
    case_scopes: Mapping[str, Collection[str]] | None = None,
    baseline_label: str | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[Comparison, ...]:
    """Judge every budget for candidate vs baseline; one Comparison per budget.

    ``case_scopes`` maps case keys to their scopes (``set:NAME``, ``tag:NAME``; see
    ``budgets.scopes_of``); keys it lacks fall back to the scopes stored in the
    summaries. ``case_filter`` narrows every budget to the keys it accepts (e.g. the
    items pytest selected). ``baseline_label`` names the baseline in reports (a saved
    run's path); it defaults to the baseline's target name.
    """
    lookups = [m for m in (case_scopes, candidate.scopes, baseline.scopes) if m is not None]
    label = baseline_label or baseline.target
    runs_b = CaseKeys(baseline, case_filter, lookups)
    runs_c = CaseKeys(candidate, case_filter, lookups)
    plans: list[_Plan] = []
    requests: list[_IntervalRequest] = []
    for budget in budgets:
        mdef = budget.definition
        all_b, all_c = runs_b.scoped(budget), runs_c.scoped(budget)
        keys_b, keys_c = runs_b.sampled(budget), runs_c.sampled(budget)
        full_c = keys_c
        matched = list(keys_b) if keys_b == keys_c else sorted(set(keys_b) & set(keys_c))
        paired = len(matched) >= gate.min_cases
        if paired:
            keys_b = keys_c = matched
        plan = _Plan(budget, keys_b, keys_c, len(matched), paired)
        plan.cached = cached_share([(baseline, keys_b), (candidate, keys_c)])
        unknown = [
            s.model or s.target
            for s, keys in ((candidate, all_c), (baseline, all_b))
            if s.is_unknown(budget.metric, keys)
        ]
        if unknown:
            plan.parts.append(("skip", f"cost unknown for model {unknown[0]} (no price)"))
        else:
            if budget.absolute:
                value = candidate.metric(budget.metric, full_c) if full_c else None
                plan.parts.append(absolute_part(budget, value, len(full_c), gate, candidate.target))
            plan.base_value = baseline.metric(budget.metric, keys_b) if keys_b else None
            plan.cand_value = candidate.metric(budget.metric, keys_c) if keys_c else None
            if budget.relative:
                if plan.base_value is None or plan.cand_value is None:
                    who = label if plan.base_value is None else candidate.target
                    plan.parts.append(("skip", f"no {mdef.sample} values for {who}"))
                elif not paired and min(len(keys_b), len(keys_c)) < gate.min_cases:
                    n = min(len(keys_b), len(keys_c))
                    plan.parts.append(("skip", f"only {n} cases (min_cases {gate.min_cases})"))
                else:
                    plan.request = len(requests)
                    requests.append(_IntervalRequest(mdef, tuple(keys_b), tuple(keys_c), paired))
        plans.append(plan)
    intervals = _intervals(requests, baseline, candidate, gate, n_resamples, seed)
    return tuple(plan.comparison(label, candidate.target, intervals, gate) for plan in plans)
