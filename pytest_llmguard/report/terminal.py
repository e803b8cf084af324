"""The terminal summary: a table per target and a budget table, verdict first."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pytest_llmguard.outcome import Outcome
from pytest_llmguard.report.escape import safe_text
from pytest_llmguard.report.rows import (
    BUDGET_HEADERS,
    TARGET_COLUMNS,
    budget_rows,
    calls_line,
    compared_line,
    failed_items_line,
    incomplete_lines,
    judge_line,
    target_rows,
)

_NUMERIC = re.compile(r"^~?[-+$]?[\d.]")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A plain left/right-aligned text table (numbers right-aligned)."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            numeric = i > 0 and bool(_NUMERIC.match(cell))
            out.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render_terminal(outcome: Outcome) -> list[str]:
    """Lines for pytest's terminal summary (every untrusted string made inert)."""
    unjudged = incomplete_lines(outcome)
    lines = [
        f"llmguard verdict: {outcome.verdict.upper()}"
        + (" (PARTIAL RUN: not everything was judged)" if unjudged else "")
    ]
    lines.extend(f"incomplete: {safe_text(reason, 600)}" for reason in unjudged)
    failed = failed_items_line(outcome)
    if failed:
        lines.append(f"failed: {failed}")
    compared = compared_line(outcome)
    if compared:
        lines.append(safe_text(compared, 400))
    if outcome.summaries:
        lines.append("")
        rows = [[safe_text(c, 120) for c in r] for r in target_rows(outcome)]
        lines.extend(table(["target", *(c[0] for c in TARGET_COLUMNS)], rows))
    if outcome.comparisons:
        lines.append("")
        rows = [[safe_text(c, 400) for c in r] for r in budget_rows(outcome.comparisons)]
        lines.extend(table(BUDGET_HEADERS, rows))
    if outcome.scored:
        lines.append("\n" + calls_line(outcome))
    if outcome.judge:
        lines.append("")
        lines.append(safe_text(judge_line(outcome.judge), 400))
    for note in outcome.notes:
        lines.append(f"note: {safe_text(note, 600)}")
    for path in outcome.reports_written:
        lines.append(f"report written: {safe_text(path, 400)}")
    for problem in outcome.unwritten:
        lines.append(f"report NOT written: {safe_text(problem, 600)}")
    return lines
