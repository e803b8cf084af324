"""Saved runs: a JSON report read back into records, to judge against it or re-render it.

A saved run carries every raw observation, so a later run is judged against it exactly
as against a target replayed in the same run (paired by case). A saved run comes from
disk and may be damaged, truncated or crafted: anything unusable is one ``SavedRunError``
naming the file and what is wrong, never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.outcome import (
    BaselineInfo,
    CaseRegression,
    Comparison,
    Outcome,
)
from pytest_llmguard.records import Observation, ScoredObservation, checks_from, scores_from
from pytest_llmguard.summary import RunSummary, summarize

SCHEMA_VERSION = 1
_JUDGE_KEYS = {"target", "model", "calls", "errors"}  # what a report says of the judge


def case_key(entry: Mapping[str, Any]) -> str:
    """The case key of one ``cases[]`` entry of a report."""
    return str(entry.get("key") or f"{entry['set_path']}::{entry['id']}")


def scored_from_entry(entry: Mapping[str, Any]) -> ScoredObservation:
    """One ``cases[]`` entry of a report → the ScoredObservation it was written from."""
    # Report entries use Observation's own field names, plus the case key.
    observation = Observation.from_dict({**entry, "case_key": case_key(entry)})
    return ScoredObservation(
        observation, checks_from(entry.get("checks")), scores_from(entry.get("scores"))
    )


@dataclass(frozen=True)
class SavedRun:
    """A parsed saved run: its label (path or run id), the document, a summary per target."""

    label: str
    document: Mapping[str, Any]
    summaries: Mapping[str, RunSummary]
    scored: tuple[ScoredObservation, ...]
    scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # budget scopes by case

    @property
    def path(self) -> str:
        return self.label

    @property
    def meta(self) -> Mapping[str, Any]:
        run = self.document.get("run")
        return run if isinstance(run, Mapping) else {}

    @property
    def commit(self) -> str | None:
        git = self.meta.get("git")
        commit = git.get("commit") if isinstance(git, Mapping) else None
        return commit if isinstance(commit, str) else None

    @property
    def partial(self) -> bool:
        """Interrupted, or otherwise incomplete: such a run is never a baseline."""
        return bool(self.meta.get("partial")) or self.meta.get("complete") is False

    @property
    def incomplete(self) -> tuple[str, ...]:
        reasons = self.meta.get("incomplete")
        if not isinstance(reasons, list):
            return ()
        return tuple(r for r in reasons if isinstance(r, str))

    @property
    def judged_at(self) -> float | None:
        """The interval level its comparisons were judged at (a sequential gate's last look)."""
        found = self.document.get("comparisons")
        for c in found if isinstance(found, list) else ():
            level = c.get("confidence") if isinstance(c, Mapping) else None
            if isinstance(level, float) and 0.0 < level < 1.0:
                return level
        return None

    def pick(self, target: str | None) -> RunSummary:
        """The summary of ``target`` if present, else the only target in the file."""
        if target is not None and target in self.summaries:
            return self.summaries[target]
        if len(self.summaries) == 1:
            return next(iter(self.summaries.values()))
        raise SavedRunError(
            f"saved run {self.label} holds targets {sorted(self.summaries)}; name the one to "
            "compare against with compare.candidate (a target present in the file)"
        )

    def baseline_info(self, summary: RunSummary) -> BaselineInfo:
        started = self.meta.get("started_at")
        return BaselineInfo(
            source="saved",
            label=self.label,
            target=summary.target,
            model=summary.model,
            commit=self.commit,
            started_at=started if isinstance(started, str) else None,
        )


def read_document(path: str, label: str | None = None) -> dict[str, Any]:
    """The JSON document of a saved run; SavedRunError for anything that is not one.

    Errors name it by ``label`` (the path as the user wrote it), else by ``path``.
    """
    file = Path(path)
    path = label or path
    if file.is_dir():
        raise SavedRunError(f"saved run {path} is a directory, not a JSON report")
    try:
        doc = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise SavedRunError(
            f"saved run {path} does not exist",
            hint="write one with --llmguard-save PATH (e.g. on the main branch)",
        ) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise SavedRunError(f"saved run {path} is not a readable JSON report: {exc}") from None
    if not isinstance(doc, dict):
        raise SavedRunError(f"saved run {path} is not an llmguard run (not a JSON object)")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION or not isinstance(doc.get("cases"), list):
        raise SavedRunError(
            f"saved run {path} is not an llmguard run of schema_version {SCHEMA_VERSION} "
            f"with 'cases' (found schema_version {version!r})"
        )
    return doc


def parse_run(label: str, doc: Mapping[str, Any], *, allow_partial: bool = False) -> SavedRun:
    """Records of a run document; SavedRunError naming the first entry that is unusable."""
    meta = doc.get("run")
    unfinished = isinstance(meta, Mapping) and (
        bool(meta.get("partial")) or meta.get("complete") is False
    )
    if unfinished and not allow_partial:
        raise SavedRunError(
            f"saved run {label} is a partial (interrupted or incomplete) run and cannot be "
            "a baseline"
        )
    scored: list[ScoredObservation] = []
    scopes: dict[str, frozenset[str]] = {}
    for index, entry in enumerate(doc["cases"]):
        try:
            one = scored_from_entry(entry)
            tags = entry.get("tags", [])
            scopes[one.observation.case_key] = frozenset(
                {f"set:{entry.get('set')}", *(f"tag:{t}" for t in tags)}
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SavedRunError(
                f"saved run {label}: cases[{index}] is malformed ({type(exc).__name__}: {exc})"
            ) from None
        scored.append(one)
    targets = doc.get("targets", {})
    if not isinstance(targets, Mapping):
        raise SavedRunError(f"saved run {label}: 'targets' is not a mapping")
    summaries = {}
    for name, info in targets.items():
        info = info if isinstance(info, Mapping) else {}
        mine = [s for s in scored if s.observation.target == name]
        summaries[str(name)] = summarize(
            str(name),
            str(info.get("provider", "")),
            str(info.get("model", "")),
            mine,
            case_scopes=scopes,
        )
    return SavedRun(label, doc, summaries, tuple(scored), scopes)


def load_run(path: str, *, allow_partial: bool = False, label: str | None = None) -> SavedRun:
    """Read and summarise a saved run; one clear SavedRunError for anything unusable."""
    return parse_run(label or path, read_document(path, label), allow_partial=allow_partial)


def outcome_of(run: SavedRun) -> Outcome:
    """A saved run as an Outcome, to re-render it without recomputing any verdict."""
    doc, meta = run.document, run.meta
    try:
        comparisons = tuple(Comparison.from_dict(c) for c in doc.get("comparisons", []))
        regressions = tuple(CaseRegression.from_dict(r) for r in doc.get("regressions") or [])
        baseline = doc.get("baseline")
        info = BaselineInfo.from_dict(baseline) if isinstance(baseline, Mapping) else None
        verdict = doc.get("verdict", "skip")
        if verdict not in ("pass", "warn", "fail", "skip"):
            raise ValueError(f"unknown verdict {verdict!r}")
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise SavedRunError(
            f"saved run {run.label}: comparisons are malformed ({type(exc).__name__}: {exc})"
        ) from None
    notes = doc.get("notes", [])
    git = meta.get("git")
    judge = doc.get("judge")
    return Outcome(
        started_at=str(meta.get("started_at", "")),
        finished_at=str(meta.get("finished_at", "")),
        duration_s=_number(meta.get("duration_s")),
        config_path=meta.get("config_path") if isinstance(meta.get("config_path"), str) else None,
        summaries=run.summaries,
        comparisons=comparisons,
        verdict=verdict,
        scored=run.scored,
        cases={},
        targets={},
        notes=tuple(str(n) for n in notes) if isinstance(notes, list) else (),
        regressions=regressions,
        partial=bool(meta.get("partial")) and not run.incomplete,
        incomplete=run.incomplete,
        failed_items=saved_count(meta.get("failed_items")),
        baseline=info,
        candidate=doc.get("candidate") if isinstance(doc.get("candidate"), str) else None,
        judge=judge if isinstance(judge, Mapping) and judge.keys() >= _JUDGE_KEYS else None,
        git={k: v for k, v in git.items() if isinstance(v, str)}
        if isinstance(git, Mapping)
        else {},
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def saved_count(value: Any) -> int:
    """A non-negative count from a saved run (anything else, from older runs too, is 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _number(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0
