"""Slow creep and one-night excursions over the history of a target's headline metrics.

**Trend.** The Theil-Sen slope (the median of the slopes between every pair of nights:
a few odd nights do not move it) of a metric over the newest ``drift.trend.window``
nights, per week of calendar time, with Sen's confidence interval (ranks of the pairwise
slopes from the null distribution of Kendall's S). A budget bounds it:
``max_increase_per_week: "10%"`` is 10 % of the metric's level (its fitted value at the
middle of the window) per week. A budget bounds one direction, so the verdict uses the
one-sided bound at ``gate.confidence``: ``fail`` when the slope's lower 95 % confidence
bound is beyond the budget, ``warn`` when only the point estimate is. The default window
is the reference nights and tonight (8): short enough that a creep starting tonight
fills it within a week, long enough for the slope's interval to exclude noise.

**Control chart.** Tonight against the reference nights: beyond mean + k sigma is
drift. With sigma estimated from ``n`` nights the limit uses Student's t (``n - 1``
degrees of freedom) at the tail ``k`` has under a normal law (0.135 % for k = 3) and the
prediction factor ``sqrt(1 + 1/n)``, so the false-alarm rate is the one k promises
instead of several times it; sigma is never taken below tonight's own sampling error.
Rates (error rate and the like) are counts: tonight's count is tested against the
reference nights' pooled count with Fisher's exact test at that same tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from pytest_llmguard.config.records import TrendBudget
from pytest_llmguard.gate import budget_verdict
from pytest_llmguard.outcome import Verdict
from pytest_llmguard.stats.significance import fisher_greater, t_quantile
from pytest_llmguard.summary import METRICS, MetricDef
from pytest_llmguard.units import format_budget_delta, format_change, format_interval, format_value

WEEK_DAYS = 7.0
MIN_TREND_POINTS = 5
MIN_TREND_SPAN_DAYS = 2.0  # runs minutes apart (a manual rerun) have no slope per week
MIN_CONTROL_NIGHTS = 3


@dataclass(frozen=True, slots=True)
class Slope:
    """A robust slope per day with its interval, and the level it is relative to."""

    per_day: float
    low: float
    high: float
    level: float
    points: int


def theil_sen(days: Sequence[float], values: Sequence[float], confidence: float) -> Slope:
    """Theil-Sen slope of ``values`` over ``days`` with Sen's interval."""
    t = np.asarray(days, dtype=float)
    y = np.asarray(values, dtype=float)
    i, j = np.triu_indices(t.size, k=1)
    dt = t[j] - t[i]
    keep = dt != 0
    slopes = np.sort((y[j] - y[i])[keep] / dt[keep])
    if slopes.size == 0:
        raise ValueError("need at least two distinct times")
    median = float(np.median(slopes))
    n, count = t.size, slopes.size
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    spread = z * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    low_rank = max(0, math.floor((count - spread) / 2.0))
    high_rank = min(count - 1, math.ceil((count + spread) / 2.0))
    level = float(np.median(y - median * t) + median * np.median(t))
    return Slope(median, float(slopes[low_rank]), float(slopes[high_rank]), level, int(n))


@dataclass(frozen=True, slots=True)
class TrendVerdict:
    """A slope judged against its budget."""

    metric: str
    slope: Slope
    budget: TrendBudget
    verdict: Verdict
    reason: str
    size: float  # slope per week over the budget: > 1 is beyond it


def judge_trend(
    budget: TrendBudget,
    days: Sequence[float],
    values: Sequence[float],
    *,
    confidence: float,
    strict: bool,
) -> TrendVerdict | None:
    """The trend verdict; None with fewer than MIN_TREND_POINTS nights, or nights that
    span less than MIN_TREND_SPAN_DAYS."""
    if len(values) < MIN_TREND_POINTS or max(days) - min(days) < MIN_TREND_SPAN_DAYS:
        return None
    mdef = METRICS[budget.metric]
    slope = theil_sen(days, values, 2.0 * confidence - 1.0)  # one-sided at `confidence`
    week, low, high = (x * WEEK_DAYS for x in (slope.per_day, slope.low, slope.high))
    limit = budget.max_increase_per_week.limit(slope.level)
    # Work in "increase in the bad direction" (a falling similarity is its rise).
    sign = 1.0 if mdef.higher_is_worse else -1.0
    point, near = sign * week, (low if sign > 0 else -high)
    unit = mdef.unit
    budget_text = (
        f"the {format_budget_delta(budget.max_increase_per_week, '+', unit)} per week budget"
    )
    verb = "rising" if week > 0 else "falling" if week < 0 else "flat"
    change = (
        f"{mdef.name} {verb} {format_change(week, unit, slope.level)} per week "
        f"(interval {format_interval((low, high), unit, slope.level)}; level "
        f"{format_value(slope.level, unit)}; {slope.points} nights)"
    )
    verdict = budget_verdict(point, near, limit, strict=strict)
    where = {"fail": "beyond", "warn": "beyond (not confidently)", "pass": "within"}[verdict]
    size = point / limit if limit > 0 else (math.inf if point > 0 else 0.0)
    return TrendVerdict(
        budget.metric, slope, budget, verdict, f"{change}: {where} {budget_text}", size
    )


def sampling_error(mdef: MetricDef, values: np.ndarray[Any, Any]) -> float:
    """The standard error of tonight's metric from its own values (0 when unknown).

    Means: sd / sqrt(n). Percentiles: half the distance between the order statistics
    that bound a 68 % interval of the quantile (distribution free).
    """
    n = values.size
    if n < 2:
        return 0.0
    if mdef.kind == "percentile" and mdef.q is not None:
        q = mdef.q / 100.0
        half = math.sqrt(n * q * (1.0 - q))
        ordered = np.sort(values)
        lo = ordered[max(0, math.floor(n * q - half))]
        hi = ordered[min(n - 1, math.ceil(n * q + half))]
        return float(hi - lo) / 2.0
    if mdef.kind == "mean":
        return float(np.std(values, ddof=1) / math.sqrt(n))
    return 0.0


@dataclass(frozen=True, slots=True)
class ControlVerdict:
    """Tonight's value against the reference nights' control limit."""

    metric: str
    value: float
    mean: float
    limit: float
    beyond: bool
    reason: str
    size: float  # how far beyond the limit, relative to the limit's distance from the mean


def tail_probability(k: float) -> float:
    """The one-sided normal tail of k sigma: what a k-sigma rule promises."""
    return 1.0 - NormalDist().cdf(k)


def control_continuous(
    mdef: MetricDef, value: float, reference: Sequence[float], k: float, own_error: float
) -> ControlVerdict | None:
    """Mean + k sigma (Student-t corrected) against tonight; None with too few nights."""
    n = len(reference)
    if n < MIN_CONTROL_NIGHTS:
        return None
    ref = np.asarray(reference, dtype=float)
    mean, sd = float(ref.mean()), float(ref.std(ddof=1))
    factor = t_quantile(1.0 - tail_probability(k), n - 1) * math.sqrt(1.0 + 1.0 / n)
    reach = max(factor * sd, k * own_error)
    sign = 1.0 if mdef.higher_is_worse else -1.0
    limit = mean + sign * reach
    beyond = sign * (value - limit) > 0 and reach > 0
    side = "above" if sign > 0 else "below"
    unit = mdef.unit
    reason = (
        f"{mdef.name} {format_value(value, unit)} tonight, "
        f"{side if beyond else 'within'} the control limit {format_value(limit, unit)} "
        f"(mean {format_value(mean, unit)} of {n} nights + {k:g} sigma)"
    )
    size = sign * (value - mean) / reach if reach > 0 else 0.0
    return ControlVerdict(mdef.name, value, mean, limit, beyond, reason, size)


def control_rate(
    mdef: MetricDef,
    tonight: tuple[int, int],
    reference: tuple[int, int],
    nights: int,
    k: float,
) -> ControlVerdict | None:
    """Tonight's count of bad outcomes against the reference nights' pooled count."""
    if nights < MIN_CONTROL_NIGHTS or tonight[1] == 0 or reference[1] == 0:
        return None
    (x_t, n_t), (x_r, n_r) = tonight, reference
    p = fisher_greater(x_t, n_t, x_r, n_r)
    tail = tail_probability(k)
    beyond = p < tail
    value, mean = x_t / n_t, x_r / n_r
    if not mdef.higher_is_worse:
        value, mean = 1.0 - value, 1.0 - mean
    reason = (
        f"{mdef.name} {format_value(value, 'ratio')} tonight vs {format_value(mean, 'ratio')} "
        f"over {nights} nights (Fisher p = {p:.2g}; a {k:g}-sigma rule alarms below {tail:.2g})"
    )
    size = -math.log10(max(p, 1e-300)) / -math.log10(tail)
    return ControlVerdict(mdef.name, value, mean, mean, beyond, reason, size)
