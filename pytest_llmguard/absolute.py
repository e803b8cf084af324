"""Absolute bounds (``max``/``min``) judged on one run alone, with no baseline: the
candidate's own value over its in-scope cases, and a relative budget said to need one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from .budget_cases import BudgetScope, cached_share, with_samples
from .budgets import Budget
from .config.records import GateConfig
from .gate import TIMING_SAMPLES, absolute_part, relative_bounds, worst_part
from .outcome import Comparison, Verdict
from .summary import RunSummary

__all__ = ["NEEDS_BASELINE", "check_absolute"]

NEEDS_BASELINE = "needs a baseline (compare.baseline or --llmguard-baseline)"


def check_absolute(
    summary: RunSummary,
    budgets: Sequence[Budget],
    gate: GateConfig,
    *,
    case_filter: Callable[[str], bool] | None = None,
    case_scopes: Mapping[str, Collection[str]] | None = None,
    say_missing_baseline: bool = False,
) -> tuple[Comparison, ...]:
    """Judge the absolute bounds (``max``/``min``) of a run that has no baseline.

    Relative bounds cannot be judged without a baseline: with ``say_missing_baseline``
    their budgets get a ``skip`` row saying so (``NEEDS_BASELINE``); else they are left out.
    """
    lookups = [m for m in (case_scopes, summary.scopes) if m is not None]
    out: list[Comparison] = []
    for budget in budgets:
        unjudged = say_missing_baseline and budget.relative
        if not budget.absolute and not unjudged:
            continue
        mdef = budget.definition
        keys_all = BudgetScope(budget, case_filter, lookups).keys(summary.case_keys)
        keys = with_samples(summary, mdef.sample, keys_all)
        value: float | None = None
        if summary.is_unknown(budget.metric, keys_all):
            verdict: Verdict = "skip"
            reason = f"cost unknown for model {summary.model or summary.target} (no price)"
        else:
            value = summary.metric(budget.metric, keys) if keys else None
            parts = [absolute_part(budget, value, len(keys), gate, summary.target)]
            if not budget.absolute:
                parts = []
            if unjudged:
                parts.append(("skip", f"{relative_bounds(budget)} {NEEDS_BASELINE}"))
            verdict = worst_part(parts)[0]
            reason = "; ".join(r for _, r in parts)
        cached = cached_share([(summary, keys)])
        if cached and mdef.sample in TIMING_SAMPLES and verdict != "skip":
            reason += f"; note: {cached:.0%} of the timings came from the cache"
        out.append(
            Comparison(
                metric=budget.metric,
                scope=budget.scope,
                baseline=None,
                candidate=summary.target,
                baseline_value=None,
                candidate_value=value,
                delta=None,
                delta_pct=None,
                interval=None,
                budget=budget,
                verdict=verdict,
                reason=reason,
                n_paired=0,
                n_baseline=0,
                n_candidate=len(keys),
                cached_share=cached,
                paired=False,
            )
        )
    return tuple(out)
