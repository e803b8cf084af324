"""What the HTML report shows, read from an Outcome: plain JSON-able data, cases in columns.

The page's script draws everything from this data and decides nothing. Cases are stored
column-wise (one array per field, one entry per case) and every text once in a string
table, so 10,000 cases stay a few megabytes. The long texts (outputs, reference answers,
prompts, failure details) are a table of their own, ``texts``, which the page reads after
its first render: the tables and charts do not wait for the outputs.

Untrusted text (model output, error messages, check details, names) is redacted as in the
PR comment and its control and bidi characters are made visible here; the page puts it
into the document with ``textContent`` only, and :func:`script_json` makes the data safe
inside ``<script>``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pytest_llmguard import __version__
from pytest_llmguard.metrics.pii import redact
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.report.escape import reveal_controls
from pytest_llmguard.report.rows import (
    BUDGET_HEADERS,
    TARGET_COLUMNS,
    budget_rows,
    compared_line,
    failed_items_line,
    incomplete_lines,
    judge_line,
    summary_row,
    target_rows,
)
from pytest_llmguard.summary import RunSummary

MAX_OUTPUT_CHARS = 4000  # per output shown; the JSON report keeps the whole text
MAX_PROMPT_CHARS = 1000
MAX_SIDES = 4  # targets charted together when the run names no baseline/candidate pair
# The side metrics the charts label (values as the summary computed them).
SIDE_METRICS = (
    "latency_p50_ms",
    "latency_p95_ms",
    "input_tokens_mean",
    "output_tokens_mean",
    "cost_per_response_usd",
    "cost_total_usd",
    "similarity_mean",
    "check_pass_rate",
    "error_rate",
)

Role = Literal["baseline", "candidate", "target"]


@dataclass(frozen=True, slots=True)
class Side:
    """One column of the charts and the case table: a target's (or a saved run's) results."""

    role: Role
    name: str
    model: str
    label: str
    summary: RunSummary | None
    scored: tuple[ScoredObservation, ...]


def _grouped(scored: Iterable[ScoredObservation]) -> dict[str, list[ScoredObservation]]:
    out: dict[str, list[ScoredObservation]] = {}
    for s in scored:
        out.setdefault(s.observation.target, []).append(s)
    return out


def _label(role: Role, name: str, model: str, saved: bool = False) -> str:
    who = f"{name} ({model})" if model else name
    if role == "target":
        return who
    if name == role:
        who = f"({model})" if model else ""
    return f"{role} {who}".rstrip() + (" [saved run]" if saved else "")


def sides_of(outcome: Outcome) -> list[Side]:
    """Baseline then candidate when the run compared two sides, else each target (up to 4)."""
    grouped = _grouped(outcome.scored)
    base, cand = outcome.baseline, outcome.candidate
    if base is not None and cand is not None:
        own = base.source == "target"
        summary = outcome.baseline_summary or (outcome.summaries.get(base.target) if own else None)
        scored = outcome.baseline_scored or (tuple(grouped.get(base.target, ())) if own else ())
        cand_summary = outcome.summaries.get(cand)
        cand_model = cand_summary.model if cand_summary else ""
        return [
            Side(
                "baseline",
                base.target,
                base.model,
                _label("baseline", base.target, base.model, not own),
                summary,
                scored,
            ),
            Side(
                "candidate",
                cand,
                cand_model,
                _label("candidate", cand, cand_model),
                cand_summary,
                tuple(grouped.get(cand, ())),
            ),
        ]
    names = list(outcome.summaries) + [n for n in grouped if n not in outcome.summaries]
    sides = []
    for name in names[:MAX_SIDES]:
        summary = outcome.summaries.get(name)
        model = summary.model if summary else ""
        label = _label("target", name, model)
        sides.append(Side("target", name, model, label, summary, tuple(grouped.get(name, ()))))
    return sides


def _num(value: float | None, digits: int | None = None) -> float | None:
    """A finite number rounded for the page (JSON has no NaN), else None."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits) if digits is not None else value


def _money(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(f"{value:.4g}")


class _Strings:
    """The page's string table: each distinct text once, index 0 the empty string."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self.table: list[str] = [""]

    def add(self, text: str | None, limit: int | None = None, *, clean: bool = False) -> int:
        """The index of ``text`` as shown (see ``shown``)."""
        if not text:
            return 0
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.table)
            self.table.append(shown(text, limit, clean=clean))
        return found


def shown(text: str, limit: int | None = None, *, clean: bool = False) -> str:
    """Untrusted text as the page shows it: redacted, controls visible, cut at ``limit``.

    ``clean``: nothing to redact. Either the scorer found no PII in this output (its
    ``pii`` score is 0, from the same detector over every kind: scanning 20,000 outputs
    again would be most of the time a large report takes), or it is the golden set's own
    text (prompt, reference answer), committed and shown as written.
    """
    # Redacted before it is cut, so a cut never leaves half a card number behind.
    text = reveal_controls(text if clean else redact(text))
    if limit is not None and len(text) > limit:
        more = len(text) - limit
        text = text[:limit] + f"… ({more:,} more characters in the JSON report)"
    return text


def _why(s: ScoredObservation) -> str:
    o = s.observation
    if o.error is not None:
        status = f" (HTTP {o.error.status})" if o.error.status else ""
        return f"{o.error.cls}{status}: {o.error.message}"
    return "; ".join(f"{c.name}: {c.detail}" for c in s.checks if not c.passed)


def _shown_first(s: ScoredObservation, than: ScoredObservation | None) -> bool:
    """Whether ``s`` is the repeat to show rather than ``than``: failing first, then earliest."""
    if than is None:
        return True
    if s.passed != than.passed:
        return not s.passed
    return s.observation.repeat_index < than.observation.repeat_index


def _clean(s: ScoredObservation) -> bool:
    """Whether the scorer looked for PII in this output and found none."""
    return s.scores.get("pii") == 0.0


def _side_columns(
    side: Side, position: Mapping[str, int], strings: _Strings, texts: _Strings
) -> dict[str, list[Any]]:
    """The side's per-case columns: the shown repeat (the first failing one, else the first)."""
    count = [0] * len(position)
    passing = [0] * len(position)
    chosen: list[ScoredObservation | None] = [None] * len(position)
    for s in side.scored:
        i = position[s.observation.case_key]
        count[i] += 1
        passing[i] += s.passed
        if _shown_first(s, chosen[i]):
            chosen[i] = s
    obs = [None if s is None else s.observation for s in chosen]
    return {
        "n": count,
        "pass": passing,
        "rep": [None if o is None else o.repeat_index for o in obs],
        "lat": [None if o is None else _num(o.latency_ms, 1) for o in obs],
        "ttft": [None if o is None else _num(o.ttft_ms, 1) for o in obs],
        "in": [None if o is None else o.input_tokens for o in obs],
        "out": [None if o is None else o.output_tokens for o in obs],
        "cost": [None if o is None else _money(o.cost_usd) for o in obs],
        "sim": [None if s is None else _num(s.scores.get("similarity"), 4) for s in chosen],
        "err": [strings.add(o.error.cls if o is not None and o.error else None) for o in obs],
        "why": [0 if s is None else texts.add(_why(s), MAX_OUTPUT_CHARS) for s in chosen],
        "text": [
            0 if s is None else texts.add(s.observation.output, MAX_OUTPUT_CHARS, clean=_clean(s))
            for s in chosen
        ],
    }


def _samples(side: Side, sample: str, digits: int) -> list[float]:
    """Every value of a sample the summary kept (all repeats), for the distributions."""
    if side.summary is None:
        return []
    flat = side.summary.column(sample).flat
    values: list[float] = np.round(flat[np.isfinite(flat)], digits).tolist()
    return values


def _side_info(side: Side) -> dict[str, Any]:
    summary = side.summary
    metrics: Mapping[str, float | None] = summary.metrics if summary else {}
    return {
        "role": side.role,
        "name": reveal_controls(side.name),
        "model": reveal_controls(side.model),
        "label": reveal_controls(side.label),
        "n": summary.n if summary else len(side.scored),
        "metrics": {m: _num(metrics.get(m)) for m in SIDE_METRICS},
        "errors": {
            k: v for k, v in sorted((summary.errors_by_class if summary else {}).items()) if v
        },
        "lat_all": _samples(side, "latency_ms", 1),
        "sim_all": _samples(side, "similarity", 4),
        "out_all": _samples(side, "output_tokens", 0),
    }


def _case_columns(
    outcome: Outcome, sides: Sequence[Side], strings: _Strings, texts: _Strings
) -> dict[str, Any]:
    keys = sorted({s.observation.case_key for side in sides for s in side.scored})
    position = {key: i for i, key in enumerate(keys)}
    # Outputs first: a reference answer equal to an output is then shown as that output is
    # (redacted where the output had PII).
    side_columns = [_side_columns(side, position, strings, texts) for side in sides]
    sets: dict[str, int] = {}
    set_col, id_col, tags_col, expected_col, prompt_col = [], [], [], [], []
    for key in keys:
        set_path, _, case_id = key.rpartition("::")
        set_col.append(sets.setdefault(set_path, len(sets)))
        id_col.append(reveal_controls(case_id))
        case = outcome.cases.get(key)
        tags_col.append(strings.add(" ".join(case.tags) if case else None))
        # The golden set's own text, committed and reviewed: shown as written.
        expected_col.append(
            texts.add(case.expected if case else None, MAX_OUTPUT_CHARS, clean=True)
        )
        prompt = None
        if case is not None and case.messages:
            prompt = "\n\n".join(f"[{m.role}] {m.content}" for m in case.messages)
        prompt_col.append(texts.add(prompt, MAX_PROMPT_CHARS, clean=True))
    return {
        "sets": [reveal_controls(s) for s in sets],
        "set": set_col,
        "id": id_col,
        "tags": tags_col,
        "expected": expected_col,
        "prompt": prompt_col,
        "sides": side_columns,
    }


def _safe_rows(rows: Iterable[Sequence[str]]) -> list[list[str]]:
    return [[reveal_controls(cell) for cell in row] for row in rows]


def build_data(outcome: Outcome) -> dict[str, Any]:
    """Everything the page shows, as JSON-able data (see the module docstring).

    ``strings`` are short texts (error classes, tags); ``texts`` the long ones.
    """
    sides = sides_of(outcome)
    strings, texts = _Strings(), _Strings()
    cases = _case_columns(outcome, sides, strings, texts)
    summary_rows = target_rows(outcome)
    base = outcome.baseline
    if base is not None and base.source == "saved" and sides and sides[0].summary is not None:
        summary_rows.insert(0, summary_row(f"saved {base.label}: {base.target}", sides[0].summary))
    regressions = [
        {
            "key": reveal_controls(r.case_key),
            "reason": reveal_controls(redact(r.reason)),
            "similarity": _num(r.output_similarity, 4),
            "before": shown(r.baseline_output, MAX_OUTPUT_CHARS),
            "after": shown(r.candidate_output, MAX_OUTPUT_CHARS),
        }
        for r in outcome.regressions
    ]
    return {
        "version": __version__,
        "verdict": outcome.verdict,
        "partial": not outcome.complete,
        "incomplete": [reveal_controls(reason) for reason in incomplete_lines(outcome)],
        "compared": reveal_controls(compared_line(outcome) or ""),
        "failed_items": failed_items_line(outcome),
        "run": {
            "started_at": outcome.started_at,
            "finished_at": outcome.finished_at,
            "duration_s": _num(outcome.duration_s, 3),
            "commit": outcome.git.get("commit"),
            "branch": reveal_controls(outcome.git.get("branch") or ""),
            "config_path": reveal_controls(outcome.config_path or ""),
            "observations": len(outcome.scored),
            "cached": sum(1 for s in outcome.scored if s.observation.cached),
        },
        "notes": [reveal_controls(n) for n in outcome.notes],
        "judge": reveal_controls(judge_line(outcome.judge)) if outcome.judge else None,
        "budgets": {
            "headers": list(BUDGET_HEADERS),
            "rows": _safe_rows(budget_rows(outcome.comparisons)),
        },
        "targets": {
            "headers": ["target", *(c[0] for c in TARGET_COLUMNS)],
            "rows": _safe_rows(summary_rows),
        },
        "sides": [_side_info(side) for side in sides],
        "regressions": regressions,
        "cases": cases,
        "strings": strings.table,
        "texts": texts.table,  # embedded apart, read after the first render
    }


# str.replace per character is C speed; str.translate with a mapping is a Python call per
# character (1 s for a 10,000-case report's 5 MB of JSON here).
_SCRIPT_UNSAFE = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
_SURROGATE = re.compile("[\ud800-\udfff]")


def script_json(data: Any) -> str:
    """JSON that is inert inside ``<script type="application/json">`` and valid UTF-8.

    ``<``, ``>`` and ``&`` are escaped, so no text can close the element or open a
    comment; U+2028/2029 too. A lone surrogate (Python text can hold one, UTF-8 cannot)
    is written as its ``\\uXXXX`` escape, which ``JSON.parse`` reads back.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _SCRIPT_UNSAFE:
        text = text.replace(char, escaped)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
