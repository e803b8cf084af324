"""Saved runs: read a JSON report back, to compare against it or to re-render it.

A saved run carries every raw observation, so a later run can be judged against it
exactly as against a target replayed in the same run (paired by case).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.records import CheckResult, Observation, ScoredObservation
from pytest_llmguard.summary import RunSummary, summarize

if TYPE_CHECKING:
    from pytest_llmguard.session import Outcome


def _key(entry: Mapping[str, Any]) -> str:
    return str(entry.get("key") or f"{entry['set_path']}::{entry['id']}")


def scored_from_entry(entry: Mapping[str, Any]) -> ScoredObservation:
    """One ``cases[]`` entry of a report → the ScoredObservation it was written from."""
    # Report entries use Observation's own field names, plus the case key.
    observation = Observation.from_dict({**entry, "case_key": _key(entry)})
    return ScoredObservation(
        observation,
        tuple(CheckResult.from_dict(c) for c in entry.get("checks", [])),
        dict(entry.get("scores", {})),
    )


@dataclass(frozen=True)
class SavedRun:
    """A parsed saved run: the document, and a summary per target."""

    path: str
    document: Mapping[str, Any]
    summaries: Mapping[str, RunSummary]
    scored: tuple[ScoredObservation, ...]

    def pick(self, target: str | None) -> RunSummary:
        """The summary of ``target`` if present, else the only target in the file."""
        if target is not None and target in self.summaries:
            return self.summaries[target]
        if len(self.summaries) == 1:
            return next(iter(self.summaries.values()))
        raise ConfigError(
            f"saved run {self.path} holds targets {sorted(self.summaries)}; name the one to "
            "compare against with compare.candidate (a target present in the file)"
        )


def load_run(path: str, *, allow_partial: bool = False) -> SavedRun:
    """Read and summarise a saved run; one clear ConfigError for anything unusable."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"saved run {path} does not exist",
            hint="write one with --llmguard-save PATH (e.g. on the main branch)",
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"saved run {path} is not a readable JSON report: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or "cases" not in doc:
        raise ConfigError(f"{path} is not an llmguard run (schema_version 1 with 'cases')")
    if doc.get("run", {}).get("partial") and not allow_partial:
        raise ConfigError(
            f"saved run {path} is a partial (interrupted) run and cannot be a baseline"
        )
    scored = [scored_from_entry(c) for c in doc["cases"]]
    scopes = {
        _key(e): frozenset({f"set:{e.get('set')}", *(f"tag:{t}" for t in e.get("tags", []))})
        for e in doc["cases"]
    }
    summaries = {}
    for name, info in doc.get("targets", {}).items():
        mine = [s for s in scored if s.observation.target == name]
        summaries[name] = summarize(
            name, info.get("provider", ""), info.get("model", ""), mine, case_scopes=scopes
        )
    return SavedRun(path, doc, summaries, tuple(scored))


def outcome_from_report(path: str) -> Outcome:
    """A saved report as an Outcome, to re-render it without recomputing any verdict."""
    from pytest_llmguard.gate import Comparison
    from pytest_llmguard.session import Outcome

    run = load_run(path, allow_partial=True)
    doc = run.document
    meta = doc.get("run", {})
    return Outcome(
        started_at=meta.get("started_at", ""),
        finished_at=meta.get("finished_at", ""),
        duration_s=float(meta.get("duration_s") or 0.0),
        config_path=meta.get("config_path"),
        summaries=run.summaries,
        comparisons=tuple(Comparison.from_dict(c) for c in doc.get("comparisons", [])),
        verdict=doc.get("verdict", "skip"),
        scored=run.scored,
        cases={},
        targets={},
        notes=tuple(doc.get("notes", [])),
        partial=bool(meta.get("partial")),
    )


def diff_runs(path_a: str, path_b: str, *, config_path: str | None, rootdir: str) -> Outcome:
    """Judge saved run B against saved run A with the configured budgets."""
    from pytest_llmguard.budgets import parse_budgets
    from pytest_llmguard.config import load_config
    from pytest_llmguard.gate import compare, overall_verdict
    from pytest_llmguard.session import Outcome

    config = load_config(rootdir, config_path)
    budgets = parse_budgets(config.budgets, file=config.path)
    run_a, run_b = load_run(path_a), load_run(path_b)
    candidate_name = config.compare.candidate if config.compare else None
    candidate = run_b.pick(candidate_name)
    baseline = run_a.pick(candidate.target)
    comparisons = compare(baseline, candidate, budgets, config.gate, baseline_label=path_a)
    meta = run_b.document.get("run", {})
    return Outcome(
        started_at=meta.get("started_at", ""),
        finished_at=meta.get("finished_at", ""),
        duration_s=float(meta.get("duration_s") or 0.0),
        config_path=config.path,
        summaries={f"A:{baseline.target}": baseline, f"B:{candidate.target}": candidate},
        comparisons=comparisons,
        verdict=overall_verdict(comparisons),
        scored=(),
        cases={},
        targets={},
    )
