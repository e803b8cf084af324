"""The Markdown report: the PR comment body. Model output is untrusted and neutralised."""

from __future__ import annotations

from pytest_llmguard.metrics.pii import redact
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.report.escape import escape_cell
from pytest_llmguard.report.rows import (
    BUDGET_HEADERS,
    TARGET_COLUMNS,
    budget_rows,
    compared_line,
    judge_line,
    target_rows,
)

COMMENT_MARKER = "<!-- pytest-llmguard:report -->"
_ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(escape_cell(c) for c in r) + " |" for r in rows)
    return out


def _case_cell(outcome: Outcome, key: str) -> str:
    """The case, and for a case sampled from production logs the record it replays."""
    case = outcome.cases.get(key)
    if case is None or case.provenance is None:
        return key
    return f"{key} (from {case.provenance.describe()})"


def render_markdown(outcome: Outcome) -> str:
    """The whole comment, starting with the hidden marker used to find it again."""
    icon = _ICONS.get(outcome.verdict, "")
    lines = [COMMENT_MARKER, f"## {icon} llmguard: {outcome.verdict.upper()}"]
    if outcome.partial:
        lines.append("\n**Partial run**: interrupted before every case ran.")
    compared = compared_line(outcome)
    if compared:
        lines.append(f"\n{escape_cell(compared, 400)}")
    if outcome.comparisons:
        lines.append("")
        lines.extend(_table(list(BUDGET_HEADERS), budget_rows(outcome.comparisons)))
    if outcome.summaries:
        lines.append("\n<details><summary>Per-target metrics</summary>\n")
        lines.extend(_table(["target", *(c[0] for c in TARGET_COLUMNS)], target_rows(outcome)))
        lines.append("\n</details>")
    if outcome.regressions:
        lines.append(f"\n### Worst regressed cases ({len(outcome.regressions)})\n")
        rows = [
            [_case_cell(outcome, r.case_key), r.reason, f"{r.output_similarity:.2f}", r.diff]
            for r in outcome.regressions
        ]
        # diffs are model output too: redacted, then escaped by _table
        rows = [[k, redact(why), sim, redact(diff)] for k, why, sim, diff in rows]
        lines.extend(
            _table(["case", "why", "output similarity", "diff (baseline → candidate)"], rows)
        )
    failed = [s for s in outcome.scored if not s.passed][:10]
    if failed:
        lines.append(f"\n<details><summary>Failed cases ({len(failed)} shown)</summary>\n")
        rows = []
        for s in failed:
            o = s.observation
            why = (
                o.error.cls + ": " + o.error.message
                if o.error
                else "; ".join(c.detail for c in s.checks if not c.passed)
            )
            # A PR comment is read widely: PII and keys in model output are redacted.
            rows.append([o.case_key, o.target, redact(why), redact(o.output or "")])
        lines.extend(_table(["case", "target", "why", "output"], rows))
        lines.append("\n</details>")
    if outcome.judge:
        lines.append(f"\n{escape_cell(judge_line(outcome.judge), 400)}")
    for note in outcome.notes:
        lines.append(f"\n> {escape_cell(note, 400)}")
    return "\n".join(lines) + "\n"
