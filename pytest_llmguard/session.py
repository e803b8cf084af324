"""One gate run, orchestrated: plan the calls, have them made, assess, report, save.

The pytest plugin keeps one ``GuardSession`` in ``config.stash`` and calls it from thin
hooks; the CLI and the benchmarks use it directly. Each step is somebody else's: the
calls belong to an execution strategy (``execution``), the verdict to ``verdict.assess``,
the baseline to ``baseline``, reports to ``report``, saved runs to ``store``. Nothing
here imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from pytest_llmguard import adaptive
from pytest_llmguard.baseline import ProductionSide, plan_baseline
from pytest_llmguard.budgets import Budget, scopes_of
from pytest_llmguard.config import Config, TargetConfig
from pytest_llmguard.config.overrides import Options, apply_options
from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.execution import (
    CallStrategy,
    CallWork,
    Worker,
    case_partitions,
    choose,
    claim,
    merge_judge_runs,
    own_units,
    published_results,
    worker_output,
)
from pytest_llmguard.execution.handover import published_rounds
from pytest_llmguard.faults import redact_url
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.outcome import Judgement, Outcome, unjudged, with_failed_items
from pytest_llmguard.outputs import RunOutputs
from pytest_llmguard.provenance import git_info
from pytest_llmguard.records import Case, ScoredObservation
from pytest_llmguard.report import Amend
from pytest_llmguard.runner import CallUnit, plan_calls
from pytest_llmguard.shards import config_digest, inputs_digest, shard_judgement
from pytest_llmguard.store import open_store
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.targets.credentials import missing_key_message
from pytest_llmguard.verdict import assess, by_target

if TYPE_CHECKING:
    from pytest_llmguard.drift.findings import DriftResult
    from pytest_llmguard.sources.loading import LogCases

__all__ = ["GuardSession", "Options"]

INTERRUPTED = "interrupted (Ctrl-C or SIGTERM) before every case ran"
PUBLISH_WAIT_S = 15.0  # how long an interrupted controller waits for the workers' results


class GuardSession:
    """The state of one run in one process (a single process, an xdist worker or controller)."""

    def __init__(
        self,
        config: Config,
        golden_sets: Sequence[GoldenSet],
        options: Options | None = None,
        *,
        worker: Worker | None = None,
        now: float | None = None,
    ) -> None:
        self.options = options or Options()
        self.config, selected = apply_options(config, self.options)
        self.started = time.time()
        # Log sampling ("since: 7d") and the drift windows count from one moment in all workers.
        self.now = self.started if now is None else now
        self.log_cases: LogCases | None = None
        if self.config.logs.enabled:  # nothing of sources is imported without logs
            from pytest_llmguard.sources.loading import load_log_cases

            taken = [g.name for g in golden_sets]
            self.log_cases = load_log_cases(self.config, now=self.now, taken_names=taken)
        if self.log_cases is not None:
            golden_sets = (*golden_sets, *self.log_cases.sets)
        self.golden_sets = tuple(golden_sets)
        self.worker = worker or Worker()
        self.cases: dict[str, Case] = {c.key: c for s in self.golden_sets for c in s.cases}
        self.store = open_store(self.config.history.dir, self.config.rootdir)
        self.baseline = plan_baseline(
            self.config,
            self.options.baseline,
            self.store,
            selected,
            self.options.label("baseline"),
            self._production,
        )
        self.notes: list[str] = self.log_cases.notes() if self.log_cases is not None else []
        running = list(selected)
        not_called = self.baseline.not_called(self.config, running, self.options.selected_targets)
        self.notes.extend([not_called] if not_called else [])
        self.targets: dict[str, TargetConfig] = {n: self.config.targets[n] for n in running}
        self.notes.extend(
            msg for t in self.targets.values() if (msg := missing_key_message(t)) is not None
        )
        self.notes.extend(self.config.unimplemented_notes())
        self.work = CallWork(
            self.config, running, tuple(self.cases.values()), rate_share=1.0 / self.worker.count
        )
        sides = (c.candidate, c.baseline) if (c := self.config.compare) else ()
        # A replay cannot add repeats (each would be a cache miss): one look, as recorded.
        repeatable = self.config.cache.mode != "replay"
        self.looks = adaptive.plan_looks(
            self.config.gate,
            base_repeat=self.config.run.repeat,
            may_repeat=repeatable and adaptive.may_repeat(self.budgets, sides, self.targets),
        )
        self.git = git_info(self.config.rootdir)
        self.outputs = RunOutputs(
            self.config, self.options, self.store, self.work.cache, self.started, self.git
        )
        self.outputs.check(retention=self.worker.count == 1)  # before any call is paid for
        # An xdist worker says it is alive from now on: if it dies, the others know at once.
        self._alive = claim(self.worker)
        self.strategy: CallStrategy | None = None
        self._failures: list[str] = []  # why the run is incomplete (beyond the strategy's)
        self._planned: list[CallUnit] = []
        self._absorbed: list[ScoredObservation] = []  # the controller's, from the workers
        self._judge_runs: list[dict[str, object]] = []
        self._whole_run: dict[int, Judgement] = {}
        self.rounds = 0  # adaptive rounds made after the first calls (same on every worker)
        self.unjudged: list[str] = []  # what the selection left unjudged (said in every report)
        self.drift_result: DriftResult | None = None  # with options.drift, after finish

    def _production(self) -> ProductionSide:
        from pytest_llmguard.sources.production import production_side

        assert self.log_cases is not None  # apply_options checked that logs are configured
        return production_side(self.log_cases, self.config)

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
        strategy = self.strategy = choose(
            self.work, self.worker, self._planned, units, more_rounds=self.looks.rounds > 0
        )
        if announce is not None:
            announce(strategy)
        try:
            strategy.start(units)
            if not strategy.streaming:
                try:
                    # a shard cannot tell a borderline budget: it holds a fraction of the cases
                    if self.looks.rounds and self.options.shard is None:
                        self._adaptive_rounds(strategy)
                finally:
                    strategy.settle()  # the providers (an in-process simulator) close now
        except Exception as exc:  # never a traceback per item: the run says what broke
            self._failures.append(f"the calls failed: {type(exc).__name__}: {exc}")
        return strategy

    def call(self, units: Sequence[CallUnit]) -> None:
        """Make this process's calls and wait for them all (the CLI and benchmarks)."""
        self.start_calls(units).settle()

    def _adaptive_rounds(self, strategy: CallStrategy) -> None:
        owners = case_partitions(self._planned, self.worker.count)
        for round_index in range(1, self.looks.rounds + 1):
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
                f"gate.adaptive: round {round_index} repeated the cases of budgets not yet "
                f"decided ({metrics})"
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
        """The scored repeats of one item (waiting for them if they are still coming).

        Only the planned repeats: the calls a sequential gate added are evidence for the
        budgets, and an item's verdict does not depend on whether the gate looked again.
        """
        if self.strategy is None:
            return []
        case = self.cases.get(case_key)
        planned = max(case.repeat if case else 1, self.config.run.repeat)
        found = self.strategy.results_for((case_key, target))
        if not found and self._failures:
            raise EngineError(f"not called: {self._failures[0]}")
        mine = [s for s in found if s.observation.repeat_index < planned]
        return sorted(mine, key=lambda s: s.observation.repeat_index)

    @property
    def incomplete(self) -> list[str]:
        """Why this process (the controller: the whole run) did not judge everything."""
        own = self.strategy.failures if self.strategy is not None else []
        return list(dict.fromkeys([*self._failures, *own]))

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
        return worker_output.encode(
            self.all_results(),
            notes=self._notes(),
            judge_runs=self.work.judge_runs,
            rounds=self.rounds,
            unjudged=self.unjudged,
            incomplete=self.incomplete,
        )

    def absorb(self, exported: str) -> None:
        """Merge a worker's exported results (controller side)."""
        out = worker_output.decode(exported)
        self._absorbed.extend(out.scored)
        self.notes.extend(n for n in out.notes if n not in self.notes)
        self._judge_runs.extend(out.judge_runs)
        self.rounds = max(self.rounds, out.rounds)
        self.unjudged.extend(r for r in out.unjudged if r not in self.unjudged)
        self._failures.extend(r for r in out.incomplete if r not in self._failures)

    def absorb_published(self, run_dir: str) -> None:
        """Take every worker's published results from ``run_dir`` (an interrupted controller),
        giving interrupted workers a moment to publish."""
        self._absorbed = published_results(run_dir, wait_s=PUBLISH_WAIT_S)
        self.rounds = max(self.rounds, published_rounds(run_dir))

    def absorb_crashed(self, run_dir: str, index: int, error: object) -> None:
        """A worker died (controller side): take what it had handed over, say what it had not."""
        handed = published_results(run_dir, only=index)
        self._absorbed.extend(handed)
        if handed:
            self.notes.append(
                f"xdist worker gw{index} crashed ({error}) after handing over its results; "
                "they are included"
            )
        else:
            self._failures.append(
                f"xdist worker gw{index} crashed ({error}) before handing over its results: "
                "its share of the cases was not called"
            )

    def add_cases(self, cases: Mapping[str, Case]) -> None:
        self.cases.update(cases)

    # ---- assessing and reporting --------------------------------------------------------

    def _notes(self) -> list[str]:
        strategy_notes = self.strategy.notes if self.strategy is not None else self.work.notes
        return self.notes + [n for n in strategy_notes if n not in self.notes]

    def assess(self, scored: Sequence[ScoredObservation], look: int | None = None) -> Judgement:
        """Summaries per target and one comparison per budget (and target) for ``scored``.

        Judged at the level of sequential look ``look`` (default: the latest made).
        """
        look = self.rounds if look is None else look
        sequential = self.looks.note(look)
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
            gate=self.looks.gate_at(self.config.gate, look),
            candidate=self.baseline.candidate,
            baseline=baseline,
            case_scopes=scopes,
            notes=[*self._notes(), *notes, *([sequential] if sequential else [])],
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

    def finish(
        self,
        *,
        partial: bool = False,
        amend: Amend | None = None,
        incomplete: Sequence[str] = (),
        failed_items: int = 0,
    ) -> Outcome:
        """Assess everything this process holds (the controller: every worker's), report it
        and save it. ``amend`` may change the JSON report before it is written.

        A run that did not judge everything (interrupted, a crash, a lost worker, budget
        items selected without their cases) says so in every report, is saved as partial,
        and its verdict is never ``pass``; each report is written whatever happens to the
        others (``Outcome.unwritten`` says which could not be). ``failed_items`` counts the
        case items pytest failed: any one fails the run (``with_failed_items``).
        """
        self.settle_calls()
        scored = self.all_results()
        # An interrupt with a known cause (a collection error) is said as that cause.
        reasons = [INTERRUPTED] if partial and not incomplete else []
        reasons += [*incomplete, *self.incomplete, *self.unjudged]
        try:
            judgement = self.assess(scored)
            if self.options.shard is not None:
                judgement = shard_judgement(judgement, self.options.shard)
        except Exception as exc:  # the paid results are still reported, unjudged
            reasons.append(f"the results could not be judged: {type(exc).__name__}: {exc}")
            judgement = Judgement({}, (), tuple(self._notes()), verdict="skip")
        reasons = list(dict.fromkeys(reasons))
        finished = time.time()
        outcome = Outcome(
            started_at=_iso(self.started),
            finished_at=_iso(finished),
            duration_s=round(finished - self.started, 3),
            config_path=self.config.path,
            summaries=judgement.summaries,
            comparisons=judgement.comparisons,
            verdict=unjudged(with_failed_items(judgement.verdict, failed_items), reasons),
            scored=tuple(scored),
            cases=dict(self.cases),
            # userinfo in a base_url (http://user:pass@host) is a credential
            targets={
                n: replace(t, base_url=t.base_url and redact_url(t.base_url))
                for n, t in self.targets.items()
            },
            notes=judgement.notes,
            regressions=judgement.regressions,
            judge=merge_judge_runs([*self.work.judge_runs, *self._judge_runs]),
            partial=partial,
            baseline=judgement.baseline,
            candidate=judgement.candidate,
            git=self.git,
            shard=self.options.shard,
            inputs_digest=inputs_digest(self.config, self.golden_sets),
            config_digest=config_digest(self.config),
            incomplete=tuple(reasons),
            baseline_summary=judgement.baseline_summary,
            baseline_scored=judgement.baseline_scored,
            failed_items=failed_items,
        )
        outcome = self.outputs.redact(outcome)  # what every artefact reads
        if not self.options.drift:
            return self.outputs.write(outcome, amend)
        from pytest_llmguard.drift.nightly import Nightly

        alerts = self.options.alerts
        nightly = Nightly(self.config, self.started, dict(self.git), alerts=alerts, now=self.now)
        written, self.drift_result = nightly.write(self.outputs, outcome, amend)
        return written


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
