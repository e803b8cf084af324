"""One gate run, orchestrated: plan the calls, have them made, assess, report, save.

The pytest plugin keeps one ``GuardSession`` in ``config.stash`` and calls it from thin
hooks; the CLI and the benchmarks use it directly. Each step is somebody else's: the
calls belong to an execution strategy (``execution``), the verdict to ``verdict.assess``,
the baseline to ``baseline``, reports to ``report``, saved runs to ``store``. Nothing
here imports pytest.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard import adaptive
from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.baseline import plan_baseline
from pytest_llmguard.budgets import Budget, scopes_of
from pytest_llmguard.config import Config, TargetConfig
from pytest_llmguard.config.overrides import Options, apply_options
from pytest_llmguard.execution import (
    CallStrategy,
    CallWork,
    Worker,
    case_partitions,
    choose,
    merge_judge_runs,
    own_units,
    published_results,
)
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.outcome import Judgement, Outcome
from pytest_llmguard.provenance import git_info
from pytest_llmguard.records import Case, ScoredObservation
from pytest_llmguard.report import Amend, render_json, write_reports
from pytest_llmguard.runner import CallUnit, plan_calls
from pytest_llmguard.store import RunMeta, open_store
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.targets.credentials import missing_key_message
from pytest_llmguard.verdict import assess, by_target

if TYPE_CHECKING:
    from pytest_llmguard.drift.findings import DriftResult
    from pytest_llmguard.drift.nightly import Nightly

__all__ = ["GuardSession", "Options"]


def reserved_key_notes(config: Config) -> list[str]:
    """Say so when a config uses a key this version accepts but does not act on yet."""
    reserved = {"report.html": config.report.html, "logs": config.logs}
    return [
        f"{key} is set but not implemented in this version; it has no effect"
        for key, value in reserved.items()
        if value
    ]


class GuardSession:
    """The state of one run in one process (a single process, an xdist worker or controller)."""

    def __init__(
        self,
        config: Config,
        golden_sets: Sequence[GoldenSet],
        options: Options | None = None,
        *,
        worker: Worker | None = None,
    ) -> None:
        self.options = options or Options()
        self.config, selected = apply_options(config, self.options)
        self.golden_sets = tuple(golden_sets)
        self.worker = worker or Worker()
        self.cases: dict[str, Case] = {c.key: c for s in self.golden_sets for c in s.cases}
        self.store = open_store(self.config.history.dir, self.config.rootdir)
        self.baseline = plan_baseline(self.config, self.options.baseline, self.store, selected)
        self.notes: list[str] = []
        running = list(selected)
        compare = self.config.compare
        replaced = compare.baseline if compare and self.baseline.saved is not None else None
        if replaced in running and not self.options.targets:
            # A saved run stands in for the baseline target: calling it would be paid twice.
            running.remove(replaced)
            self.notes.append(
                f"target '{replaced}' not called: the baseline is {self.baseline.saved.label}"  # type: ignore[union-attr]
            )
        self.targets: dict[str, TargetConfig] = {n: self.config.targets[n] for n in running}
        self.notes.extend(
            msg for t in self.targets.values() if (msg := missing_key_message(t)) is not None
        )
        self.notes.extend(reserved_key_notes(self.config))
        self.work = CallWork(
            self.config, running, tuple(self.cases.values()), rate_share=1.0 / self.worker.count
        )
        self.strategy: CallStrategy | None = None
        self._planned: list[CallUnit] = []
        self._absorbed: list[ScoredObservation] = []  # the controller's, from the workers
        self._judge_runs: list[dict[str, object]] = []
        self._whole_run: dict[int, Judgement] = {}
        self.rounds = 0  # adaptive rounds made after the first calls (same on every worker)
        self.started = time.time()
        self.git = git_info(self.config.rootdir)
        self.drift_result: DriftResult | None = None  # with options.drift, after finish

    @property
    def budgets(self) -> tuple[Budget, ...]:
        return self.config.budgets

    # ---- the calls ----------------------------------------------------------------------

    def plan(self, selected: Sequence[tuple[Case, str]]) -> list[CallUnit]:
        """Plan the calls for the selected (case, target) items; returns this process's share."""
        self._planned = plan_calls(selected, self.config.run.repeat)
        return own_units(self._planned, self.worker)

    def start_calls(
        self,
        units: Sequence[CallUnit],
        announce: Callable[[CallStrategy], None] | None = None,
    ) -> CallStrategy:
        """Start this process's calls the best available way (see ``execution.choose``).

        In process (and for xdist workers) the calls, and any adaptive rounds, are done
        when this returns; a forked child streams them while the items run. ``announce``
        hears which way before the calls start.
        """
        strategy = self.strategy = choose(self.work, self.worker, self._planned, units)
        if announce is not None:
            announce(strategy)
        strategy.start(units)
        if not strategy.streaming:
            try:
                if self.config.gate.adaptive:
                    self._adaptive_rounds(strategy)
            finally:
                strategy.settle()  # the providers (an in-process simulator) close now
        return strategy

    def call(self, units: Sequence[CallUnit]) -> None:
        """Make this process's calls and wait for them all (the CLI and benchmarks)."""
        self.start_calls(units).settle()

    def _adaptive_rounds(self, strategy: CallStrategy) -> None:
        owners = case_partitions(self._planned, self.worker.count)
        for round_index in range(1, self.config.gate.adaptive_rounds + 1):
            shaky = adaptive.shaky(self.judgement_of_whole_run().comparisons)
            if not shaky:
                return
            extra = adaptive.extra_units(
                shaky,
                self._planned,
                running=self.targets,
                owners=owners,
                worker_index=self.worker.index,
                base_repeat=self.config.run.repeat,
                round_index=round_index,
            )
            strategy.run_more(extra, round_index)
            self.rounds = round_index
            metrics = ", ".join(sorted({c.metric for c in shaky}))
            self.notes.append(
                f"gate.adaptive: round {round_index} repeated the cases of borderline "
                f"budgets ({metrics})"
            )

    @property
    def calls_pending(self) -> bool:
        """True while a forked child is still making this process's calls."""
        return self.strategy is not None and self.strategy.streaming

    @property
    def call_seconds(self) -> float:
        return self.strategy.call_seconds if self.strategy is not None else 0.0

    @property
    def interrupted(self) -> bool:
        return self.strategy is not None and self.strategy.interrupted

    def results_for(self, case_key: str, target: str) -> list[ScoredObservation]:
        """The scored repeats of one item (waiting for them if they are still coming)."""
        if self.strategy is None:
            return []
        found = self.strategy.results_for((case_key, target))
        return sorted(found, key=lambda s: s.observation.repeat_index)

    def settle_calls(self, *, stop: bool = False) -> None:
        """Take every result still coming; ``stop`` (Ctrl-C) asks the calls to stop first."""
        if self.strategy is not None:
            self.strategy.settle(stop=stop)

    def close(self) -> None:
        """Never leave a call child or an open provider behind."""
        if self.strategy is not None:
            self.strategy.close()

    # ---- xdist: workers export, the controller absorbs -----------------------------------

    def all_results(self) -> list[ScoredObservation]:
        own = self.strategy.own_results() if self.strategy is not None else []
        return own + self._absorbed

    def export(self) -> str:
        """This process's own scored results and notes, for ``workeroutput``."""
        return json.dumps(
            {
                "scored": [s.to_dict() for s in self.all_results()],
                "notes": self._notes(),
                "judge_runs": self.work.judge_runs,
            },
            ensure_ascii=False,
        )

    def absorb(self, exported: str) -> None:
        """Merge a worker's exported results (controller side)."""
        data = json.loads(exported)
        self._absorbed.extend(ScoredObservation.from_dict(d) for d in data["scored"])
        self.notes.extend(n for n in data["notes"] if n not in self.notes)
        self._judge_runs.extend(data.get("judge_runs", []))

    def absorb_published(self, run_dir: str) -> None:
        """Take every worker's published results from ``run_dir`` (an interrupted controller)."""
        self._absorbed = published_results(run_dir)

    def add_cases(self, cases: Mapping[str, Case]) -> None:
        self.cases.update(cases)

    # ---- assessing and reporting --------------------------------------------------------

    def _notes(self) -> list[str]:
        strategy_notes = self.strategy.notes if self.strategy is not None else self.work.notes
        return self.notes + [n for n in strategy_notes if n not in self.notes]

    def assess(self, scored: Sequence[ScoredObservation]) -> Judgement:
        """Summaries per target and one comparison per budget (and target) for ``scored``."""
        grouped = by_target(scored)
        scopes = {key: scopes_of(c) for key, c in self.cases.items()}
        summaries: dict[str, RunSummary] = {
            name: summarize(name, t.provider, t.model, grouped[name], case_scopes=scopes)
            for name, t in self.targets.items()
            if grouped.get(name)
        }
        baseline, notes = self.baseline.resolve(summaries, grouped)
        return assess(
            summaries,
            scored,
            budgets=self.budgets,
            gate=self.config.gate,
            candidate=self.baseline.candidate,
            baseline=baseline,
            case_scopes=scopes,
            notes=[*self._notes(), *notes],
        )

    def judgement_of_whole_run(self) -> Judgement:
        """The judgement over every partition (waiting for other xdist workers), once a round.

        Budget items use it so each budget's verdict is a test result in JUnit XML; it
        equals the controller's final judgement because every statistic is seeded.
        """
        if self.rounds not in self._whole_run:
            everything = self.strategy.everything() if self.strategy is not None else []
            self._whole_run[self.rounds] = self.assess(everything + self._absorbed)
        return self._whole_run[self.rounds]

    def finish(self, *, partial: bool = False, amend: Amend | None = None) -> Outcome:
        """Assess everything this process holds (the controller: every worker's), report it
        and save it. ``amend`` may change the JSON report before it is written."""
        self.settle_calls()
        scored = self.all_results()
        judgement = self.assess(scored)
        finished = time.time()
        outcome = Outcome(
            started_at=_iso(self.started),
            finished_at=_iso(finished),
            duration_s=round(finished - self.started, 3),
            config_path=self.config.path,
            summaries=judgement.summaries,
            comparisons=judgement.comparisons,
            verdict=judgement.verdict,
            scored=tuple(scored),
            cases=dict(self.cases),
            targets=dict(self.targets),
            notes=judgement.notes,
            regressions=judgement.regressions,
            judge=merge_judge_runs([*self.work.judge_runs, *self._judge_runs]),
            partial=partial,
            baseline=judgement.baseline,
            candidate=judgement.candidate,
            git=self.git,
        )
        paths = self._report_paths()
        document = None
        nightly = self._nightly() if self.options.drift else None
        drift = nightly.judge(outcome) if nightly is not None else None
        given = amend
        if drift is not None:
            amend = _with_drift(given, drift)
        saving = self.options.save_path is not None or self.options.save_to_store
        if "json" in paths or saving or nightly is not None:
            document = render_json(outcome, amend)
        written = write_reports(outcome, paths, document=document)
        if saving and document is not None:
            written.append(self._save(document, partial=partial))
        if nightly is not None and drift is not None and document is not None:
            self.drift_result = nightly.finish(outcome, document + "\n", drift)
            if "json" in paths:  # the report file also says what alerting did (stored before)
                final = render_json(outcome, _with_drift(given, self.drift_result))
                write_atomic(paths["json"], final + "\n")
        return replace(outcome, reports_written=tuple(written))

    def _nightly(self) -> Nightly:
        from pytest_llmguard.drift.nightly import Nightly

        return Nightly(self.config, self.started, dict(self.git), alerts=self.options.alerts)

    def _save(self, document: str, *, partial: bool) -> str:
        """Save the run: into the run store, or to the file ``--llmguard-save`` named."""
        path = self.options.save_path
        if path is None:
            meta = RunMeta(self.started, self.git.get("commit"), self.git.get("branch"), partial)
            ref = self.store.save(document + "\n", meta)
            history = self.config.history
            self.store.prune(keep=history.keep, max_age_days=history.max_age_days, now=time.time())
            return ref.location
        target = path + ".partial" if partial else path  # a partial run is never a baseline
        write_atomic(target, document + "\n", durable=True)
        return target

    def _report_paths(self) -> dict[str, str]:
        cfg = self.config.report
        paths = {
            "json": self.options.report_json or cfg.json,
            "markdown": self.options.report_markdown or cfg.markdown,
            "html": self.options.report_html or cfg.html,
        }
        root = Path(self.config.rootdir)
        return {k: os.fspath(root / v) for k, v in paths.items() if v}


def _with_drift(amend: Amend | None, drift: DriftResult) -> Amend:
    """``amend``, then the drift check's result as the report's ``drift`` key."""

    def both(report: dict[str, Any]) -> None:
        report["drift"] = drift.to_dict()
        if amend is not None:
            amend(report)

    return both


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
