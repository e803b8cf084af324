"""GitHub Actions output: the step summary and ``::error``/``::warning`` annotations.

The step summary gets the Markdown report appended (trimmed to what is left of the
step's 1 MiB, as the comment is trimmed to its limit). Annotations point at the golden
set file and line of each failed case and at the config file for budgets. GitHub shows
only 10 errors and 10 warnings per step: the most important come first (failed budgets,
then cases that newly fail against the baseline, then other failures of the candidate,
then other targets'), and one summary annotation stands for the rest.

Workflow-command data is escaped as the runner reads it (``%``, CR, LF; in properties
also ``:`` and ``,``), so untrusted text cannot end a command or start another.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmguard.atomic import append_text
from pytest_llmguard.metrics.pii import redact
from pytest_llmguard.outcome import Comparison, Outcome
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.report.escape import CONTROL_CHARS
from pytest_llmguard.report.markdown import SUMMARY_LIMIT, Limit, render_markdown

MAX_PER_LEVEL = 10  # what GitHub shows of each level per step
MESSAGE_LIMIT = 600
MIN_SUMMARY_ROOM = 2_000  # below this, the step summary is left alone

Level = Literal["error", "warning"]


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True, slots=True)
class Annotation:
    """One ``::error``/``::warning`` workflow command."""

    level: Level
    title: str
    message: str
    file: str | None = None
    line: int | None = None

    def command(self) -> str:
        props = []
        if self.file:
            props.append(f"file={escape_property(self.file)}")
            if self.line:
                props.append(f"line={self.line}")
        props.append(f"title={escape_property(self.title)}")
        return f"::{self.level} {','.join(props)}::{escape_data(self.message)}"


def _clean(text: str, limit: int = MESSAGE_LIMIT) -> str:
    text = CONTROL_CHARS.sub("", redact(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _relative(path: str | None, rootdir: str, workspace: str | None) -> str | None:
    """``path`` (absolute, or relative to ``rootdir``) relative to the repository root."""
    if not path:
        return None
    full = os.path.normpath(os.path.join(rootdir, path))
    base = os.path.abspath(workspace or rootdir)
    relative = os.path.relpath(full, base)
    return full if relative.startswith("..") else relative.replace(os.sep, "/")


def config_line(path: str | None, comparison: Comparison) -> int | None:
    """The line of a budget's metric in the config file (its scope's first), best effort."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    start = next((i for i, t in enumerate(lines) if re.match(r"\s*\[?[\w.]*budgets\b", t)), None)
    if start is None:
        return None
    wanted = [comparison.budget.scope.partition(":")[2]] if comparison.scope != "all" else []
    wanted.append(comparison.metric)
    at = start
    for word in wanted:
        pattern = re.compile(rf"(^|[\s{{,\[.\"']){re.escape(word)}[\"']?\s*[:=\]]")
        found = next((i for i in range(at, len(lines)) if pattern.search(lines[i])), None)
        if found is None:
            return start + 1
        at = found
    return at + 1


def _budget_annotations(
    outcome: Outcome, level: Level, config_file: str | None, config_path: str | None
) -> list[Annotation]:
    verdict = "fail" if level == "error" else "warn"
    several = len({c.candidate for c in outcome.comparisons}) > 1
    found = []
    for c in outcome.comparisons:
        if c.verdict != verdict:
            continue
        scope = "" if c.scope == "all" else f" [{c.scope}]"
        target = f" @ {c.candidate}" if several else ""
        word = "failed" if level == "error" else "warns"
        found.append(
            Annotation(
                level,
                f"llmguard budget {word}: {c.metric}{scope}{target}",
                _clean(c.reason),
                config_file,
                config_line(config_path, c),
            )
        )
    return found


def _case_annotations(outcome: Outcome, rootdir: str, workspace: str | None) -> list[Annotation]:
    """One error per failed case × target, ranked: newly failing, candidate, others."""
    failed: dict[tuple[str, str], list[ScoredObservation]] = defaultdict(list)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for s in outcome.scored:
        key = (s.observation.case_key, s.observation.target)
        totals[key] += 1
        if not s.passed:
            failed[key].append(s)
    newly = {r.case_key for r in outcome.regressions if r.reason.startswith("now fails")}

    def rank(key: tuple[str, str]) -> tuple[int, str, str]:
        case, target = key
        if target == outcome.candidate:
            return (0 if case in newly else 1, case, target)
        return (2, case, target)

    found = []
    for key in sorted(failed, key=rank):
        case_key, target = key
        case = outcome.cases.get(case_key)
        set_path = case.set_path if case is not None else case_key.rpartition("::")[0]
        line = case.line if case is not None else None
        first = failed[key][0]
        o = first.observation
        if o.error is not None:
            why = f"call failed: {o.error.cls}: {o.error.message}"
        else:
            why = "; ".join(c.detail for c in first.checks if not c.passed)
        repeats = f"{len(failed[key])} of {totals[key]} repeats failed: " if totals[key] > 1 else ""
        newly_said = " (passed on the baseline)" if rank(key)[0] == 0 else ""
        found.append(
            Annotation(
                "error",
                f"llmguard case failed: {case_key.rpartition('::')[2]} [{target}]{newly_said}",
                _clean(f"{target} ({o.model}): {repeats}{why}"),
                _relative(set_path, rootdir, workspace),
                line,
            )
        )
    return found


def _capped(found: Sequence[Annotation], level: Level) -> list[Annotation]:
    if len(found) <= MAX_PER_LEVEL:
        return list(found)
    shown = list(found[: MAX_PER_LEVEL - 1])
    rest = len(found) - len(shown)
    what = "failures" if level == "error" else "warnings"
    shown.append(
        Annotation(
            level,
            f"llmguard: {rest} more {what}",
            f"{rest} more llmguard {what} are not annotated (GitHub shows {MAX_PER_LEVEL} "
            "per step): see the step summary and the llmguard report",
        )
    )
    return shown


def workflow_annotations(
    outcome: Outcome, *, rootdir: str = ".", workspace: str | None = None
) -> list[Annotation]:
    """The run's annotations, most important first, at most 10 errors and 10 warnings."""
    config_file = _relative(outcome.config_path, rootdir, workspace)
    errors = _budget_annotations(outcome, "error", config_file, outcome.config_path)
    errors += _case_annotations(outcome, rootdir, workspace)
    warnings = _budget_annotations(outcome, "warning", config_file, outcome.config_path)
    return _capped(errors, "error") + _capped(warnings, "warning")


def append_step_summary(
    path: str, outcome: Outcome, *, report_url: str | None = None, notice: str | None = None
) -> str | None:
    """Append the Markdown report to the step summary file; a message if it could not be."""
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    head = f"> ⚠️ {notice}\n\n" if notice else ""
    room = SUMMARY_LIMIT.size - used - len(head.encode("utf-8")) - 2
    if room < MIN_SUMMARY_ROOM:
        return f"the step summary is full ({used:,} bytes of 1 MiB): the report was not added"
    limit = Limit(room, SUMMARY_LIMIT.name, in_bytes=True)
    text = head + render_markdown(outcome, limit=limit, report_url=report_url)
    try:
        append_text(path, ("\n" if used else "") + text)
    except OSError as exc:
        return f"could not write the step summary: {exc}"
    return None


def append_notice(path: str, notice: str) -> str | None:
    """Add one warning line to the step summary (a comment that could not be posted)."""
    try:
        append_text(path, f"\n> ⚠️ llmguard: {_clean(notice)}\n")
    except OSError as exc:
        return f"could not write the step summary: {exc}"
    return None


def actions_env(env: Mapping[str, str]) -> bool:
    """Whether this runs in GitHub Actions with its output wanted (``LLMGUARD_GITHUB=0`` not)."""
    if env.get("LLMGUARD_GITHUB", "").strip().lower() in ("0", "false", "off", "no"):
        return False
    return env.get("GITHUB_ACTIONS") == "true"
