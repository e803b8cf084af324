"""Which side the candidate is judged against, resolved once per run and said plainly.

The baseline is a target replayed in the same run (``compare.baseline: NAME``) or a
saved run: ``--llmguard-baseline PATH|latest|RUN_ID|COMMIT``, or ``compare.baseline:
path.json``. A saved baseline is read before any call is made, so a missing or damaged
one is a usage error that costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmguard.config import Config
from pytest_llmguard.config.overrides import as_set
from pytest_llmguard.config.records import PRODUCTION
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.outcome import BaselineInfo
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.store import RunStore, SavedRun, load_saved
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.verdict import Baseline


@dataclass(frozen=True)
class ProductionSide:
    """``compare.baseline: production``: the sampled log records, scored as observations."""

    info: BaselineInfo
    scored: tuple[ScoredObservation, ...]

    @property
    def cases(self) -> frozenset[str]:
        return frozenset(s.observation.case_key for s in self.scored)


@dataclass(frozen=True)
class BaselinePlan:
    """What the run compares: the candidate's name and where its baseline comes from."""

    candidate: str | None
    target: str | None = None  # a baseline target replayed in this run
    saved: SavedRun | None = None  # or a saved run
    note: str | None = None  # said in the report (e.g. an empty store)
    production: ProductionSide | None = None  # or what the logs recorded

    def not_called(self, config: Config, running: list[str], named: Sequence[str]) -> str | None:
        """A saved run stands in for the baseline target (calling it would be paid twice):
        removed from ``running`` unless the user ``named`` it, and said."""
        compare = config.compare
        replaced = compare.baseline if compare and self.saved is not None else None
        if self.saved is None or replaced not in running or replaced in named:
            return None
        running.remove(replaced)
        return f"target '{replaced}' not called: the baseline is {self.saved.label}"

    def resolve(
        self,
        summaries: Mapping[str, RunSummary],
        by_target: Mapping[str, Sequence[ScoredObservation]],
    ) -> tuple[Baseline | None, list[str]]:
        """The baseline side for this run's results, and notes on what is missing."""
        notes = [self.note] if self.note else []
        if self.production is not None:
            side = self.production
            summary = summarize(PRODUCTION, "logs", side.info.model, list(side.scored))
            return Baseline(side.info, summary, side.scored, cases=side.cases), notes
        if self.saved is not None:
            summary = self.saved.pick(self.candidate)
            scored = tuple(s for s in self.saved.scored if s.observation.target == summary.target)
            info = self.saved.baseline_info(summary)
            notes.extend(_unpaired_note(info, scored, by_target.get(self.candidate or "", ())))
            return Baseline(info, summary, scored), notes
        if self.target is None:
            return None, notes
        found = summaries.get(self.target)
        if found is None:
            notes.append(
                f"no comparison: baseline target '{self.target}' did not run (deselected?)"
            )
            return None, notes
        info = BaselineInfo("target", self.target, self.target, found.model)
        return Baseline(info, found, tuple(by_target.get(self.target, ()))), notes


def _unpaired_note(
    info: BaselineInfo,
    baseline: Sequence[ScoredObservation],
    candidate: Sequence[ScoredObservation],
) -> list[str]:
    """Said when the baseline has not one case id in common with the candidate: every
    comparison is then unpaired (different golden sets, or renamed cases)."""
    mine = {s.observation.case_key for s in candidate}
    theirs = {s.observation.case_key for s in baseline}
    if not mine or not theirs or mine & theirs:
        return []
    return [
        f"the baseline ({info.describe()}) shares no case ids with this run: "
        f"{len(theirs)} baseline cases and {len(mine)} candidate cases are compared unpaired "
        "(different golden sets, or renamed cases?)"
    ]


def plan_baseline(
    config: Config,
    option: str | None,
    store: RunStore,
    selected: Sequence[str],
    label: str = "--llmguard-baseline",
    production: Callable[[], ProductionSide] | None = None,
) -> BaselinePlan:
    """Read the saved baseline now (before any call), or name the baseline target, or
    (``compare.baseline: production``) score what the logs recorded, via ``production``.

    ``label`` is how the user set ``option`` (the flag or its ini key), for errors.
    """
    compare = config.compare
    candidate = compare.candidate if compare is not None else None
    if candidate is None and len(selected) == 1:
        candidate = selected[0]
    if option is None and compare is not None and compare.production_baseline(config.targets):
        if production is None:
            raise ValueError("compare.baseline is production, but no log cases were loaded")
        return BaselinePlan(candidate, production=production())
    ref = option
    if ref is None and compare is not None and compare.saved_baseline:
        ref = compare.baseline
    if ref is not None:
        try:
            saved = load_saved(ref, store, config.rootdir)
        except SavedRunError as exc:
            if ref.strip() == "latest" and not store.runs():
                return BaselinePlan(
                    candidate,
                    note=f"no saved run in {store.location} yet: nothing to compare against "
                    "(save one with --llmguard-save)",
                )
            where = as_set(label, ref) if option is not None else f"compare.baseline {ref}"
            raise SavedRunError(f"{where}: {exc.message}", hint=exc.hint) from None
        saved.pick(candidate)  # a run holding several targets must name the candidate
        return BaselinePlan(candidate, saved=saved)
    if compare is not None:
        return BaselinePlan(candidate, target=compare.baseline)
    return BaselinePlan(candidate)
