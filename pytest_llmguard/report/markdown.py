"""The Markdown report: the PR comment body and the step summary. Model output is untrusted.

A reviewer should get it in ten seconds: the verdict, then what was compared (each side's
target, model and origin), the budget table, the worst regressed cases with a word diff
(``<del>``/``<ins>``, which GitHub renders), the details folded, and a footer with the
run's facts. Every untrusted string (model output, error bodies, names) goes through
``escape_cell``, model output also through PII redaction.

GitHub bounds a comment body to 65,536 characters and a step summary to 1 MiB: past a
``Limit`` the least important sections are dropped first (failed cases, per-target
metrics, notes, then regressed cases and budget rows from the end) and the report says so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pytest_llmguard.metrics.pii import redact
from pytest_llmguard.outcome import CaseRegression, Outcome
from pytest_llmguard.report.escape import escape_cell
from pytest_llmguard.report.facts import run_facts, sides
from pytest_llmguard.report.rows import (
    BUDGET_HEADERS,
    TARGET_COLUMNS,
    budget_rows,
    failed_items_line,
    incomplete_lines,
    judge_line,
    target_rows,
)

if TYPE_CHECKING:  # a record the outcome carries; reports import no metric module
    from pytest_llmguard.metrics.textdiff import DiffSpan

COMMENT_MARKER = "<!-- pytest-llmguard:report -->"
ICONS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "skip": "⏭️"}
FAILED_SHOWN = 10  # failed cases listed in the folded section
_SAFE_URL = re.compile(r"^https?://[^\s()<>\"'`]+$")


@dataclass(frozen=True, slots=True)
class Limit:
    """A size bound on the rendered text, in characters or UTF-8 bytes."""

    size: int
    name: str
    in_bytes: bool = False

    def measure(self, text: str) -> int:
        return len(text.encode("utf-8")) if self.in_bytes else len(text)


COMMENT_LIMIT = Limit(65_536, "GitHub's 65,536-character limit for a comment")
SUMMARY_LIMIT = Limit(1_048_576, "GitHub's 1 MiB limit for a step summary", in_bytes=True)


@dataclass(frozen=True, slots=True)
class _Shape:
    """How much of each section to show (trimming shrinks it step by step)."""

    failed: bool = True
    targets: bool = True
    notes: bool = True
    regressions: int | None = None  # rows shown; None = all
    budgets: int | None = None
    dropped: tuple[str, ...] = ()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub table; every cell escaped (rows of pre-rendered cells use ``raw_table``)."""
    return raw_table(headers, [[escape_cell(c) for c in r] for r in rows])


def raw_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GitHub table of cells already escaped."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return out


def diff_cell(regression: CaseRegression, limit: int = 600) -> str:
    """The word diff as GitHub shows one: deletions struck through, insertions marked.

    Each span is redacted and escaped on its own, then wrapped in ``<del>``/``<ins>``
    (tags GitHub keeps); nothing of the output can add markup of its own.
    """
    spans: Sequence[DiffSpan] = regression.spans
    if not spans:  # a run saved before spans existed: its text diff, escaped
        return escape_cell(redact(regression.diff), limit)
    pieces: list[str] = []
    room = limit
    for span in spans:
        if room <= 0:
            pieces.append("…")
            break
        text = escape_cell(redact(span.text), max(room, 2))
        room -= len(span.text)
        if span.kind == "del":
            pieces.append(f"<del>{text}</del>")
        elif span.kind == "ins":
            pieces.append(f"<ins>{text}</ins>")
        elif span.kind == "gap":
            pieces.append("…")
        else:
            pieces.append(text)
    return " ".join(pieces)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain http(s) URL that cannot break out of a Markdown link."""
    return url if url and _SAFE_URL.match(url) else None


def _headline(outcome: Outcome) -> list[str]:
    icon = ICONS.get(outcome.verdict, "")
    counts: Counter[str] = Counter(c.verdict for c in outcome.comparisons)
    said = [f"{counts[v]} {word}" for v, word in _COUNT_WORDS if counts[v]]
    tail = f" · budgets: {', '.join(said)}" if said else ""
    lines = [COMMENT_MARKER, f"## {icon} llmguard: {outcome.verdict.upper()}{tail}", ""]
    unjudged = incomplete_lines(outcome)
    if unjudged:  # before anything else: this run is no PASS, whatever follows
        lines.append("**Partial run**: not everything was judged, so this is no PASS:")
        lines.extend(f"- {escape_cell(reason, 400)}" for reason in unjudged)
        lines.append("")
    failed = failed_items_line(outcome)
    if failed:
        lines.extend([f"**Failed cases:** {escape_cell(failed, 400)}", ""])
    for side in sides(outcome):
        lines.append(
            f"- **{side.role.capitalize()}:** {escape_cell(side.target, 80)} "
            f"({escape_cell(side.model, 120)}), {escape_cell(side.origin, 200)}"
        )
    return lines


_COUNT_WORDS = (("fail", "failed"), ("warn", "warned"), ("skip", "skipped"), ("pass", "passed"))


def _budget_rows(outcome: Outcome) -> list[list[str]]:
    rows = budget_rows(outcome.comparisons)
    return [
        [escape_cell(f"{ICONS.get(r[0].lower(), '')} {r[0]}"), *map(escape_cell, r[1:])]
        for r in rows
    ]


def _budgets(rows: Sequence[Sequence[str]], shown: int | None) -> list[str]:
    if not rows:
        return []
    lines = ["", *raw_table(list(BUDGET_HEADERS), rows[:shown])]
    if shown is not None and shown < len(rows):
        lines.append(f"\n… and {len(rows) - shown} more budgets (see the JSON report)")
    return lines


def _case_cell(outcome: Outcome, key: str) -> str:
    """The case, and for a case sampled from production logs the record it replays."""
    case = outcome.cases.get(key)
    if case is None or case.provenance is None:
        return key
    return f"{key} (from {case.provenance.describe()})"


def _regression_rows(outcome: Outcome) -> list[list[str]]:
    return [
        [
            escape_cell(_case_cell(outcome, r.case_key)),
            escape_cell(redact(r.reason), 300),
            diff_cell(r),
        ]
        for r in outcome.regressions
    ]


def _regressions(rows: Sequence[Sequence[str]], shown: int | None) -> list[str]:
    found = rows[:shown]
    if not found:
        return []
    lines = [f"\n### Worst regressed cases ({len(found)})\n"]
    lines.extend(raw_table(["case", "why", "output diff (baseline → candidate)"], found))
    return lines


def _target_metrics(outcome: Outcome) -> list[str]:
    if not outcome.summaries:
        return []
    lines = ["\n<details><summary>Per-target metrics</summary>\n"]
    lines.extend(table(["target", *(c[0] for c in TARGET_COLUMNS)], target_rows(outcome)))
    lines.append("\n</details>")
    return lines


def _failed_cases(outcome: Outcome) -> list[str]:
    failed = [s for s in outcome.scored if not s.passed]
    if not failed:
        return []
    shown = failed[:FAILED_SHOWN]
    lines = [f"\n<details><summary>Failed cases ({len(shown)} of {len(failed)} shown)</summary>\n"]
    rows = []
    for s in shown:
        o = s.observation
        why = (
            o.error.cls + ": " + o.error.message
            if o.error
            else "; ".join(c.detail for c in s.checks if not c.passed)
        )
        # A PR comment is read widely: PII and keys in model output are redacted.
        rows.append([o.case_key, o.target, redact(why), redact(o.output or "")])
    lines.extend(table(["case", "target", "why", "output"], rows))
    lines.append("\n</details>")
    return lines


def _notes(outcome: Outcome) -> list[str]:
    lines = []
    if outcome.judge:
        lines.append(f"\n{escape_cell(judge_line(outcome.judge), 400)}")
    lines.extend(f"\n> {escape_cell(note, 400)}" for note in outcome.notes)
    return lines


class _Parts:
    """Each section rendered once; trimming only chooses how much of them to join."""

    def __init__(self, outcome: Outcome, report_url: str | None) -> None:
        self.headline = _headline(outcome)
        self.budget_rows = _budget_rows(outcome)
        self.regression_rows = _regression_rows(outcome)
        self.targets = _target_metrics(outcome)
        self.failed = _failed_cases(outcome)
        self.notes = _notes(outcome)
        link = safe_url(report_url)
        html = f" · [full HTML report]({link})" if link else ""
        self.facts = f"<sub>{escape_cell(run_facts(outcome).sentence(), 600)}{html}</sub>"

    def compose(self, shape: _Shape, limit: Limit | None) -> str:
        lines = [*self.headline]
        lines += _budgets(self.budget_rows, shape.budgets)
        lines += _regressions(self.regression_rows, shape.regressions)
        if shape.targets:
            lines += self.targets
        if shape.failed:
            lines += self.failed
        if shape.notes:
            lines += self.notes
        if shape.dropped and limit is not None:
            lines.append(
                f"\n> ✂️ Shortened to fit {limit.name}: left out {', '.join(shape.dropped)}. "
                "The JSON report (and the HTML report, where uploaded) has everything."
            )
        lines += ["", "---", self.facts]
        return "\n".join(lines) + "\n"


def _smaller(outcome: Outcome, shape: _Shape) -> _Shape | None:
    """The next, smaller shape: whole folded sections first, then rows from the end."""
    if shape.failed and any(not s.passed for s in outcome.scored):
        return replace(shape, failed=False, dropped=(*shape.dropped, "the failed cases"))
    if shape.targets and outcome.summaries:
        return replace(shape, targets=False, dropped=(*shape.dropped, "per-target metrics"))
    if shape.notes and (outcome.notes or outcome.judge):
        return replace(shape, notes=False, dropped=(*shape.dropped, "the notes"))
    regressions = len(outcome.regressions) if shape.regressions is None else shape.regressions
    if regressions > 0:
        said = "some regressed cases"
        dropped = shape.dropped if said in shape.dropped else (*shape.dropped, said)
        return replace(shape, regressions=regressions - 1, dropped=dropped)
    budgets = len(outcome.comparisons) if shape.budgets is None else shape.budgets
    if budgets > 1:
        return replace(shape, budgets=max(1, budgets // 2))
    return None


def render_markdown(
    outcome: Outcome, *, limit: Limit | None = None, report_url: str | None = None
) -> str:
    """The whole comment, starting with the hidden marker used to find it again.

    With ``limit`` the text is shortened to fit it (the least important sections go
    first, and the comment says what was left out). ``report_url`` links the HTML report.
    """
    parts = _Parts(outcome, report_url)
    shape = _Shape()
    text = parts.compose(shape, limit)
    while limit is not None and limit.measure(text) > limit.size:
        smaller = _smaller(outcome, shape)
        if smaller is None:  # nothing left to drop: cut, keeping the marker and headline
            return _cut(text, limit)
        shape = smaller
        text = parts.compose(shape, limit)
    return text


def _cut(text: str, limit: Limit) -> str:
    note = f"\n\n… cut to fit {limit.name}.\n"
    room = limit.size - limit.measure(note)
    kept = text
    while limit.measure(kept) > room:
        kept = kept[: max(0, len(kept) - max(1, (limit.measure(kept) - room)))]
    return kept.rsplit("\n", 1)[0] + note
