"""The rows every report shows, built once from an Outcome: per-target metrics and budgets.

Renderers (terminal, Markdown, HTML) lay these rows out in their own medium and escape
them there; the numbers are written by ``units`` so they read the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmguard.outcome import Comparison, Outcome
from pytest_llmguard.summary import METRICS, RunSummary
from pytest_llmguard.units import (
    MISSING,
    format_change,
    format_interval,
    format_number,
    format_value,
)

VERDICT_ORDER = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}

# (header, metric name or a special column, unit of the cells)
TARGET_COLUMNS = (
    ("n", "n", "count"),
    ("errors", "", ""),
    ("p50 ms", "latency_p50_ms", "ms"),
    ("p95 ms", "latency_p95_ms", "ms"),
    ("p99 ms", "latency_p99_ms", "ms"),
    ("ttft p95", "ttft_p95_ms", "ms"),
    ("in tok", "input_tokens_mean", "tokens"),
    ("out tok", "output_tokens_mean", "tokens"),
    ("$/resp", "cost_per_response_usd", "usd"),
    ("$ total", "cost_total_usd", "usd"),
    ("sim mean", "similarity_mean", "ratio"),
    ("checks", "check_pass_rate", "ratio"),
)
BUDGET_HEADERS = ("verdict", "budget", "baseline → candidate", "Δ", "interval", "why")
# Cells that rest on token counts: "~" in front when some of them were estimated.
ESTIMATED_MARK = "~"
_FROM_TOKENS = frozenset(
    {"input_tokens_mean", "output_tokens_mean", "cost_per_response_usd", "cost_total_usd"}
)


def unit_of(metric: str) -> str:
    definition = METRICS.get(metric)
    return definition.unit if definition is not None else ""


def target_rows(outcome: Outcome) -> list[list[str]]:
    """One row per target: ``name (model)``, then the TARGET_COLUMNS cells.

    Token and cost cells of a target with estimated token counts start with ``~``.
    """
    estimated = {s.observation.target for s in outcome.scored if s.observation.tokens_estimated}
    return [
        summary_row(name, s, estimated=name in estimated) for name, s in outcome.summaries.items()
    ]


def summary_row(name: str, s: RunSummary, *, estimated: bool = False) -> list[str]:
    """``name (model)`` and the TARGET_COLUMNS cells of one summary (a target, a saved run);
    ``estimated``: its token counts were estimated (those cells start with ``~``)."""
    errors = ", ".join(f"{k}={v}" for k, v in sorted(s.errors_by_class.items()) if v) or "0"
    row = [f"{name} ({s.model})"]
    for _, metric, unit in TARGET_COLUMNS:
        if metric == "n":
            row.append(str(s.n))
        elif metric == "":
            row.append(errors)
        else:
            cell = format_number(s.metrics.get(metric), unit)
            mark = estimated and metric in _FROM_TOKENS and cell != MISSING
            row.append(ESTIMATED_MARK + cell if mark else cell)
    return row


def budget_label(c: Comparison, *, with_target: bool) -> str:
    """``latency_p95_ms``, ``check_pass_rate [tag:billing]``, with ``@ target`` if asked."""
    scope = "" if c.scope == "all" else f" [{c.scope}]"
    target = f" @ {c.candidate}" if with_target else ""
    return c.metric + scope + target


def budget_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """Rows of the budget table (BUDGET_HEADERS), worst verdict first.

    Each row names its target when more than one target is judged.
    """
    several = len({c.candidate for c in comparisons}) > 1
    rows = []
    for c in sorted(comparisons, key=lambda c: VERDICT_ORDER.get(c.verdict, 9)):
        unit = unit_of(c.metric)
        if c.baseline_value is not None:
            before = format_value(c.baseline_value, unit)
            values = f"{before} → {format_value(c.candidate_value, unit)}"
        else:
            values = format_value(c.candidate_value, unit)
        delta = ""
        if c.delta is not None and c.baseline_value is not None:
            delta = format_change(c.delta, unit, c.baseline_value)
        interval = ""
        if c.interval is not None:
            interval = format_interval(c.interval, unit, c.baseline_value)
        rows.append(
            [
                c.verdict.upper(),
                budget_label(c, with_target=several),
                values,
                delta,
                interval,
                c.reason,
            ]
        )
    return rows


def calls_line(outcome: Outcome) -> str:
    """How many calls were really made: every attempt sent (retries too), never a response
    that came from the cache or a call that was not made (no API key, a replay miss, the
    spend limit)."""
    observations = [s.observation for s in outcome.scored]
    made = sum(o.attempts for o in observations if not o.cached)
    cached = sum(1 for o in observations if o.cached)
    not_called = sum(1 for o in observations if not o.cached and o.attempts == 0)
    parts = [f"{made} call{'' if made == 1 else 's'} made"]
    if cached:
        parts.append(
            f"{cached} of {len(observations)} responses came from the cache "
            "(timings are the recorded ones)"
        )
    if not_called:
        parts.append(f"{not_called} not called (see the failed cases)")
    return "; ".join(parts)


def incomplete_lines(outcome: Outcome) -> list[str]:
    """Why the run did not judge everything (every report leads with these); [] if complete."""
    lines = list(outcome.incomplete)
    if outcome.partial and not lines:
        lines.append("interrupted before every case ran")
    return lines


def failed_items_line(outcome: Outcome) -> str | None:
    """Why a run whose budgets all pass still fails: its case items (None if none failed)."""
    n = outcome.failed_items
    if not n:
        return None
    items = "case item" if n == 1 else "case items"
    return f"{n} {items} failed (checks or calls; see the test failures): the run fails"


def judge_line(judge: Mapping[str, Any]) -> str:
    """The LLM judge's own work, with its cost kept apart from the targets' cost."""
    mean = judge.get("mean_score")
    return (
        f"judge {judge['target']} ({judge['model']}): {judge['calls']} calls, "
        f"{judge['errors']} errors, mean score {format_number(mean, 'ratio')}, "
        f"cost {format_number(judge.get('cost_usd'), 'usd')} (not included in the targets' cost)"
    )


def compared_line(outcome: Outcome) -> str | None:
    """What was compared, said plainly: ``candidate (model) vs target baseline (model)``."""
    if outcome.candidate is None or outcome.baseline is None:
        return None
    summary = outcome.summaries.get(outcome.candidate)
    model = f" ({summary.model})" if summary is not None else ""
    baseline = outcome.baseline.describe()
    return f"compared: candidate {outcome.candidate}{model} vs baseline {baseline}"
