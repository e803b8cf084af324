"""The terminal summary: a table per target and a budget table, verdict first."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmguard.gate import Comparison
    from pytest_llmguard.session import Outcome

# C0/C1 control characters (ANSI escapes start with ESC) except tab/newline.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str, limit: int = 300) -> str:
    """Model output made safe for a terminal: control sequences removed, length bounded."""
    cleaned = CONTROL_CHARS.sub("\N{REPLACEMENT CHARACTER}", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def fmt(value: float | int | None, unit: str = "") -> str:
    """A metric value for a table cell, in the metric's unit."""
    if value is None:
        return "n/a"
    if unit == "usd":
        return f"${value:.6f}" if abs(value) < 0.01 else f"${value:.4f}"
    if unit == "ratio":
        return f"{value:.3f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.1f}"


def fmt_delta(value: float, unit: str) -> str:
    """A signed change in the metric's unit (ratios in percentage points)."""
    if unit == "usd":
        return f"{value:+.2e}" if value and abs(value) < 0.001 else f"{value:+.4f}"
    if unit == "ratio":
        return f"{value * 100:+.1f} pts"
    return f"{value:+.1f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain left/right-aligned text table (numbers right-aligned)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = i > 0 and bool(re.match(r"^[-+$]?[\d.]", cell))
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


TARGET_COLUMNS = (
    ("n", "n", ""),
    ("errors", "", ""),
    ("p50 ms", "latency_p50_ms", "ms"),
    ("p95 ms", "latency_p95_ms", "ms"),
    ("p99 ms", "latency_p99_ms", "ms"),
    ("ttft p95", "ttft_p95_ms", "ms"),
    ("in tok", "input_tokens_mean", ""),
    ("out tok", "output_tokens_mean", ""),
    ("$/resp", "cost_per_response_usd", "usd"),
    ("$ total", "cost_total_usd", "usd"),
    ("sim mean", "similarity_mean", "ratio"),
    ("checks", "check_pass_rate", "ratio"),
)


def target_rows(outcome: Outcome) -> list[list[str]]:
    rows = []
    for name, s in outcome.summaries.items():
        errors = ", ".join(f"{k}={v}" for k, v in sorted(s.errors_by_class.items()) if v) or "0"
        row = [f"{name} ({s.model})"]
        for _, metric, unit in TARGET_COLUMNS:
            if metric == "n":
                row.append(str(s.n))
            elif metric == "":
                row.append(errors)
            else:
                row.append(fmt(s.metrics.get(metric), unit))
        rows.append(row)
    return rows


def _unit(metric: str) -> str:
    from pytest_llmguard.summary import METRICS

    definition = METRICS.get(metric)
    return definition.unit if definition is not None else ""


def _interval(c: Comparison, unit: str) -> str:
    if c.interval is None:
        return ""
    low, high = c.interval
    return f"[{fmt_delta(low, unit)}, {fmt_delta(high, unit)}]"


def budget_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    """Rows of the budget table, worst verdict first."""
    order = {"fail": 0, "warn": 1, "skip": 2, "pass": 3}
    rows = []
    for c in sorted(comparisons, key=lambda c: order.get(c.verdict, 9)):
        unit = _unit(c.metric)
        if c.baseline_value is not None:
            values = f"{fmt(c.baseline_value, unit)} → {fmt(c.candidate_value, unit)}"
        else:
            values = fmt(c.candidate_value, unit)
        delta = ""
        if c.delta is not None and c.baseline_value is not None:
            delta = fmt_delta(c.delta, unit)
            if c.delta_pct is not None and unit != "ratio":
                delta += f" ({c.delta_pct:+.1f}%)"
        scope = "" if c.scope == "all" else f" [{c.scope}]"
        rows.append(
            [c.verdict.upper(), c.metric + scope, values, delta, _interval(c, unit), c.reason]
        )
    return rows


def judge_line(judge: Mapping[str, Any]) -> str:
    """The LLM judge's own work, with its cost kept apart from the targets' cost."""
    mean = judge.get("mean_score")
    return (
        f"judge {judge['target']} ({judge['model']}): {judge['calls']} calls, "
        f"{judge['errors']} errors, mean score {fmt(mean, 'ratio')}, "
        f"cost {fmt(judge.get('cost_usd'), 'usd')} (not included in the targets' cost)"
    )


def render_terminal(outcome: Outcome) -> list[str]:
    """Lines for pytest's terminal summary."""
    lines = [
        f"llmguard verdict: {outcome.verdict.upper()}"
        + (" (PARTIAL RUN)" if outcome.partial else "")
    ]
    if outcome.summaries:
        lines.append("")
        lines.extend(table(["target", *(c[0] for c in TARGET_COLUMNS)], target_rows(outcome)))
    if outcome.comparisons:
        lines.append("")
        lines.extend(
            table(
                ["verdict", "budget", "value", "Δ", "interval", "why"],
                budget_rows(outcome.comparisons),
            )
        )
    cached = sum(1 for s in outcome.scored if s.observation.cached)
    if cached:
        lines.append(
            f"\n{cached} of {len(outcome.scored)} responses came from the cache "
            "(timings are the recorded ones)"
        )
    if outcome.judge:
        lines.append("")
        lines.append(judge_line(outcome.judge))
    for note in outcome.notes:
        lines.append(f"note: {note}")
    for path in outcome.reports_written:
        lines.append(f"report written: {path}")
    return lines
