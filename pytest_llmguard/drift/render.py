"""The drift check in words: terminal lines and a Markdown body (step summary, issue).

Reads a ``DriftResult`` and never recomputes. Model outputs are untrusted text: the
terminal gets ``safe_text`` (no control sequences), Markdown gets ``escape_cell`` (no
HTML, mentions or table breaks).
"""

from __future__ import annotations

from pytest_llmguard.drift.findings import DriftResult, Finding
from pytest_llmguard.report.escape import escape_cell, safe_text

HEADLINE = {
    "drift": "DRIFT",
    "warn": "WARN (nothing alerted)",
    "ok": "OK",
    "first": "FIRST NIGHT (nothing to compare yet)",
}


def headline(result: DriftResult) -> str:
    fails = sum(f.verdict == "fail" for f in result.findings)
    count = f" ({fails} finding{'s' if fails != 1 else ''})" if fails else ""
    return f"llmguard drift: {HEADLINE[result.verdict]}{count}"


def render_terminal(result: DriftResult, *, cases: int = 3) -> list[str]:
    """The drift section of the terminal summary, verdict first."""
    lines = [headline(result)]
    for check in result.checks:
        if check.reference:
            span = f"{check.reference[-1]} .. {check.reference[0]}"
            lines.append(
                f"  {check.target} ({check.model}) against {len(check.reference)} "
                f"reference night(s): {span}"
            )
    for finding in sorted(result.findings, key=lambda f: f.verdict != "fail"):
        lines.append(f"  {finding.verdict.upper()} {safe_text(finding.title, 400)}")
        for moved in finding.cases[:cases]:
            lines.append(
                f"      {moved.case_key}: distance {moved.distance:.2f} tonight, "
                f"usually {moved.usual:.2f}"
            )
            lines.append(f"        before: {safe_text(moved.before, 160)}")
            lines.append(f"        after:  {safe_text(moved.after, 160)}")
            lines.append(f"        diff:   {safe_text(moved.diff, 200)}")
    for check in result.checks:
        lines.extend(f"  tested: {safe_text(t, 500)}" for t in check.tests)
        lines.extend(f"  note: {safe_text(n, 300)}" for n in check.notes)
    lines.extend(f"  note: {safe_text(n, 300)}" for n in result.notes)
    lines.extend(f"  alerts: {safe_text(a, 300)}" for a in result.alerts)
    if result.saved:
        lines.append(f"  stored: {result.saved}")
    return lines


def finding_markdown(finding: Finding, *, cases: int = 5) -> list[str]:
    """One finding as Markdown: its title, how it was decided, the cases that moved."""
    lines = [f"**{finding.verdict.upper()}** {escape_cell(finding.title, 600)}"]
    if finding.detail:
        lines.append(f"<sub>{escape_cell(finding.detail, 600)}</sub>")
    if finding.cases:
        lines += [
            "",
            "| case | distance (usual) | before | after | diff |",
            "|---|---|---|---|---|",
        ]
        for c in finding.cases[:cases]:
            lines.append(
                f"| {escape_cell(c.case_key)} | {c.distance:.2f} ({c.usual:.2f}) | "
                f"{escape_cell(c.before)} | {escape_cell(c.after)} | {escape_cell(c.diff)} |"
            )
    return lines


def render_markdown(result: DriftResult) -> str:
    """The whole check as Markdown."""
    lines = [f"## {escape_cell(headline(result))}", ""]
    for finding in sorted(result.findings, key=lambda f: f.verdict != "fail"):
        lines += [*finding_markdown(finding), ""]
    lines.append("<details><summary>What was tested</summary>")
    lines.append("")
    for check in result.checks:
        lines.append(f"- {escape_cell(check.target)} ({escape_cell(check.model)}):")
        lines.extend(f"  - {escape_cell(t, 600)}" for t in check.tests)
        lines.extend(f"  - note: {escape_cell(n, 400)}" for n in check.notes)
    lines.extend(f"- note: {escape_cell(n, 400)}" for n in result.notes)
    lines += ["", "</details>", ""]
    return "\n".join(lines)
