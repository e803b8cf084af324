"""One gate run: plan the calls, make them, score them, summarise, judge, report.

The pytest plugin keeps one ``GuardSession`` in ``config.stash`` and calls it from thin
hooks; the CLI uses it directly. Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_llmguard.budgets import Budget, parse_budgets, scopes_of
from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config import CACHE_MODES, Config, RunConfig, TargetConfig
from pytest_llmguard.exceptions import ConfigError, EngineError
from pytest_llmguard.forked import CallChild, Emit, fork_allowed, run_interruptible
from pytest_llmguard.gate import Comparison, borderline, check_absolute, compare, overall_verdict
from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.handover import (
    Worker,
    case_partitions,
    iter_published,
    own_units,
    publish,
    wait_for_partition,
)
from pytest_llmguard.judge import JudgeResult, judge_outputs, judge_target_config
from pytest_llmguard.records import Case, Observation, ScoredObservation
from pytest_llmguard.regressions import CaseRegression, find_regressions
from pytest_llmguard.runner import CallUnit, Engine, plan_calls
from pytest_llmguard.scoring import score_batch, validate_quality
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.targets.credentials import missing_key_message
from pytest_llmguard.targets.embeddings import EmbeddingClient
from pytest_llmguard.targets.registry import OpenedTargets, open_targets

SCORE_BATCH = 128  # observations a replaying call child scores at a time


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line / ini overrides of the config (None = keep the config's value)."""

    targets: tuple[str, ...] = ()  # "NAME" selects, "NAME=MODEL" overrides a model
    baseline_path: str | None = None
    save_path: str | None = None
    cache_mode: str | None = None
    report_json: str | None = None
    report_markdown: str | None = None
    report_html: str | None = None
    repeat: int | None = None
    concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything the reports show; renderers read it and never recompute."""

    started_at: str
    finished_at: str
    duration_s: float
    config_path: str | None
    summaries: Mapping[str, RunSummary]
    comparisons: tuple[Comparison, ...]
    verdict: str
    scored: tuple[ScoredObservation, ...]
    cases: Mapping[str, Case]
    targets: Mapping[str, TargetConfig]
    notes: tuple[str, ...] = ()
    regressions: tuple[CaseRegression, ...] = ()
    judge: Mapping[str, Any] | None = None  # the judge's own calls and cost, kept apart
    partial: bool = False
    reports_written: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Judgement:
    """Per-target summaries and the budget comparisons made from them."""

    summaries: Mapping[str, RunSummary]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]
    regressions: tuple[CaseRegression, ...] = ()


def merge_judge_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Sum judge runs (rounds, xdist workers); cost is unknown if any part is unknown."""
    if not runs:
        return None
    scored = sum(int(r["scored"]) for r in runs)
    weighted = sum(r["mean_score"] * r["scored"] for r in runs if r["mean_score"] is not None)
    costs = [r["cost_usd"] for r in runs]
    return {
        "target": runs[0]["target"],
        "model": runs[0]["model"],
        "calls": sum(int(r["calls"]) for r in runs),
        "errors": sum(int(r["errors"]) for r in runs),
        "scored": scored,
        "mean_score": weighted / scored if scored else None,
        "cost_usd": None if any(c is None for c in costs) else sum(costs),
        "seconds": round(sum(float(r["seconds"]) for r in runs), 3),
    }


def reserved_key_notes(config: Config) -> list[str]:
    """Say so when a config uses a key this version accepts but does not act on yet."""
    reserved = {
        "report.html": config.report.html,
        "logs": config.logs,
        "drift": config.drift,
        "alerts": config.alerts,
    }
    return [
        f"{key} is set but not implemented in this version; it has no effect"
        for key, value in reserved.items()
        if value
    ]


def apply_target_options(config: Config, selectors: Sequence[str]) -> dict[str, TargetConfig]:
    """Targets after ``--llmguard-target``: NAME keeps only those, NAME=MODEL swaps a model."""
    targets = dict(config.targets)
    keep: list[str] = []
    for raw in selectors:
        for item in raw.split(","):
            name, _, model = item.strip().partition("=")
            if not name:
                continue
            if name not in targets:
                raise ConfigError(
                    f"--llmguard-target names unknown target '{name}'",
                    hint=f"configured targets: {', '.join(targets) or '(none)'}",
                )
            if model:
                targets[name] = replace(targets[name], model=model)
            else:
                keep.append(name)
    if keep:
        targets = {n: t for n, t in targets.items() if n in keep}
    return targets


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
        self.config = config
        self.options = options or Options()
        self.golden_sets = tuple(golden_sets)
        self.worker = worker or Worker()
        self.targets = apply_target_options(config, self.options.targets)
        if self.options.cache_mode and self.options.cache_mode not in CACHE_MODES:
            raise ConfigError(
                f"--llmguard-cache={self.options.cache_mode} is not a cache mode",
                hint=f"valid modes: {', '.join(CACHE_MODES)}",
            )
        self.budgets: tuple[Budget, ...] = parse_budgets(config.budgets, file=config.path)
        try:
            quality = validate_quality(config.quality)  # now, not after the calls
        except ConfigError as exc:
            raise ConfigError(
                exc.message, file=config.path, key_path=exc.key_path, hint=exc.hint
            ) from None
        if quality.judge is not None and quality.judge.target not in config.targets:
            raise ConfigError(
                f"unknown target '{quality.judge.target}'",
                file=config.path,
                key_path="quality.judge.target",
                hint=f"configured targets: {', '.join(config.targets)}",
            )
        self.quality = quality
        self.judge_runs: list[dict[str, Any]] = []  # one JudgeResult.to_dict() per engine run
        if quality.embeddings_target and quality.embeddings_target not in config.targets:
            raise ConfigError(
                f"unknown target '{quality.embeddings_target}'",
                file=config.path,
                key_path="quality.similarity.embeddings.target",
                hint=f"configured targets: {', '.join(config.targets)}",
            )
        self.cases: dict[str, Case] = {c.key: c for s in self.golden_sets for c in s.cases}
        self.notes: list[str] = [
            msg for t in self.targets.values() if (msg := missing_key_message(t)) is not None
        ]
        self.notes.extend(reserved_key_notes(config))
        self._units: list[CallUnit] = []
        self._owners: dict[str, int] = {}
        self._results: dict[tuple[str, str], list[ScoredObservation]] = defaultdict(list)
        self._own: list[ScoredObservation] = []
        self._partitions: dict[tuple[int, int], list[ScoredObservation]] = {}
        self._whole_run: dict[int, Judgement] = {}
        self.rounds = 0  # adaptive rounds done after the first calls (same on every worker)
        self.started = time.time()
        self.call_seconds = 0.0
        self.interrupted = False
        self._child: CallChild | None = None  # calls in a forked process (see forked.py)
        self.forked_calls = False
        self.child_failure: str | None = None  # why a call child ended early, if it did
        self._expected: Counter[tuple[str, str]] = Counter()
        self._arrived: list[tuple[Case, Observation]] = []  # from the child, not scored yet

    # ---- planning and calling -------------------------------------------------------

    @property
    def run_config(self) -> RunConfig:
        run = self.config.run
        if self.options.concurrency:
            run = replace(run, concurrency=self.options.concurrency)
        if self.options.repeat:
            run = replace(run, repeat=self.options.repeat)
        return run

    def plan(self, selected: Sequence[tuple[Case, str]]) -> list[CallUnit]:
        """Plan the calls for the selected (case, target) items; returns this process's share."""
        self._units = plan_calls(selected, self.run_config.repeat)
        self._owners = case_partitions(self._units, self.worker.count)
        return own_units(self._units, self.worker)

    @property
    def calls_pending(self) -> bool:
        """True while a forked child is still making this process's calls."""
        return self._child is not None and not self._child.done

    def _can_fork(self, units: Sequence[CallUnit]) -> bool:
        """Calls may stream from a forked child: one process, nothing needing the whole batch."""
        return (
            bool(units)
            and self.worker.count == 1
            and self.worker.run_dir is None
            and self.quality.judge is None
            and self.quality.embeddings_target is None
            and not self.config.gate.adaptive
            and fork_allowed()
        )

    def start_calls(self, units: Sequence[CallUnit]) -> bool:
        """Start this process's calls in a forked child, if that is safe (see ``forked``).

        Returns False when it is not; the caller then uses :meth:`call`. Results arrive
        while items run: :meth:`results_for` takes each one as it comes.
        """
        if not self._can_fork(units):
            return False
        self._expected = Counter((u.case.key, u.target) for u in units)  # repeats per item
        self._child = CallChild.start(lambda emit: self._child_calls(units, emit))
        self.forked_calls = True
        return True

    def _child_calls(self, units: Sequence[CallUnit], emit: Emit) -> dict[str, Any]:
        """In the forked child: make the calls, emit each observation as it completes."""
        t0 = time.perf_counter()
        notes: list[str] = []

        # A pure replay has no network timing to disturb, so the child scores too (in
        # batches, off the items' core); otherwise the parent scores what arrives.
        replay = (self.options.cache_mode or self.config.cache.mode) == "replay"
        batch: list[tuple[Case, Observation]] = []

        def send_scored() -> None:
            if batch:
                scored = score_batch(
                    [c for c, _ in batch], [o for _, o in batch], self.config.quality
                )
                batch.clear()
                for one in scored:
                    emit({"s": one.to_dict()})

        def on_observation(unit: CallUnit, obs: Observation) -> None:
            if not replay:
                emit({"o": obs.to_dict()})
                return
            batch.append((unit.case, obs))
            if len(batch) >= SCORE_BATCH:
                send_scored()

        with open_targets(self.config, self.targets, self._all_cases()) as opened:
            engine, _ = self._engine(opened)
            # Ctrl-C cancels the calls; what completed was sent (or is in ``batch``)
            interrupted = run_interruptible(engine.run(units, on_observation))
            notes.extend(self._spend_notes(engine))
        if interrupted:
            for _, obs in batch:  # the parent scores these
                emit({"o": obs.to_dict()})
        else:
            send_scored()
        return {
            "seconds": time.perf_counter() - t0,
            "notes": notes,
            "interrupted": interrupted,
        }

    def _take(self, message: Mapping[str, Any]) -> None:
        data = message.get("o")
        if data is not None:
            obs = Observation.from_dict(data)
            self._arrived.append((self.cases[obs.case_key], obs))
        scored = message.get("s")
        if scored is not None:
            one = ScoredObservation.from_dict(scored)
            self._own.append(one)
            self._results[(one.observation.case_key, one.observation.target)].append(one)

    def _receive(self, *, until: tuple[str, str] | None = None, stop: bool = False) -> None:
        """Take the child's results: until ``until`` has one, or all of them; then score.

        ``stop`` (an interrupted run) asks the child to stop first and bounds the wait.
        """
        child = self._child
        if child is None:
            return
        if stop:
            child.interrupt()
        deadline = time.monotonic() + 15.0
        failed = False
        try:
            while not child.done:
                if until is not None and self._has_all(until):
                    break
                block_s = max(0.0, deadline - time.monotonic()) if stop else None
                got = False
                for message in child.messages(block=True, timeout_s=block_s):
                    self._take(message)
                    got = True
                if stop and not got and time.monotonic() > deadline:
                    break
        except EngineError as exc:  # the child failed or broke its output: keep what came
            self.child_failure = str(exc)
            self.notes.append(f"{exc}; cases without a result are reported as not called")
            failed = True
        finally:
            if self._arrived:
                arrived, self._arrived = self._arrived, []
                self._store([c for c, _ in arrived], [o for _, o in arrived])
        if child.done or stop or failed:
            self._end_child(child)

    def _has_all(self, key: tuple[str, str]) -> bool:
        """Whether every planned repeat of ``key`` has arrived (stored or still to score)."""
        have = len(self._results.get(key, ()))
        if have < self._expected.get(key, 1):
            have += sum(1 for _, o in self._arrived if (o.case_key, o.target) == key)
        return have >= self._expected.get(key, 1)

    def _end_child(self, child: CallChild) -> None:
        child.reap()
        final = child.final
        if final is None:
            if self.child_failure is None:
                self.child_failure = (
                    f"the call process ended without finishing (exit status {child.exit_status})"
                )
                self.notes.append(
                    f"{self.child_failure}; cases without a result are reported as not called"
                )
            self.interrupted = True
        else:
            self.call_seconds = float(final.get("seconds", 0.0))
            self.notes.extend(n for n in final.get("notes", ()) if n not in self.notes)
            self.interrupted = self.interrupted or bool(final.get("interrupted"))
        self._child = None

    def call(
        self,
        units: Sequence[CallUnit],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Make this process's calls, score them, and publish them to the other workers."""
        t0 = time.perf_counter()
        observed: list[tuple[Case, Observation]] = []

        def on_observation(unit: CallUnit, obs: Observation) -> None:
            observed.append((unit.case, obs))
            if progress is not None:
                progress(len(observed), len(units))

        try:
            if not units:
                self._store([], [])
            # One simulator for the whole run (adaptive rounds included): its attempt
            # counters make each repeat a fresh sample, as from a real provider.
            needed = {**self._helper_targets(), **self.targets}
            with open_targets(self.config, needed, self._all_cases()) as opened:
                if units:
                    self._run_engine(units, on_observation, observed, opened)
                if self.config.gate.adaptive:
                    self._adaptive_rounds(on_observation, observed, opened)
        except KeyboardInterrupt:
            # Ctrl-C: keep what was observed so the partial report shows it, then let
            # pytest end the session as interrupted (exit 2).
            self.interrupted = True
            self._store([c for c, _ in observed], [o for _, o in observed])
            raise
        self.call_seconds = time.perf_counter() - t0

    def _run_engine(
        self,
        units: Sequence[CallUnit],
        on_observation: Callable[[CallUnit, Observation], None],
        observed: list[tuple[Case, Observation]],
        opened: OpenedTargets,
    ) -> None:
        engine, cache = self._engine(opened)
        asyncio.run(engine.run(units, on_observation))
        self.notes.extend(self._spend_notes(engine))
        cases = [c for c, _ in observed]
        observations = [o for _, o in observed]
        # Judged and scored while a sim target's server still runs: it may serve both.
        verdicts = self._judge(cases, observations, opened, cache, engine.spend.spent_usd)
        embedder = self._embedder(opened)
        self._store(cases, observations, embed=embedder, judge=verdicts)
        observed.clear()  # stored: a Ctrl-C from here on must not store them again
        if embedder is not None and embedder.problem:
            self.notes.append(
                f"embeddings unavailable ({embedder.problem}); similarity is fuzzy only"
            )

    def _engine(self, opened: OpenedTargets) -> tuple[Engine, ResponseCache]:
        clients = opened.clients(self.targets)
        cache = ResponseCache(
            Path(self.config.rootdir) / self.config.cache.dir,
            self.options.cache_mode or self.config.cache.mode,
        )
        engine = Engine(
            clients,
            self.run_config,
            cache=cache,
            pricing=self.config.pricing,
            rate_share=1.0 / self.worker.count,
        )
        return engine, cache

    def _spend_notes(self, engine: Engine) -> list[str]:
        if not engine.spend.exhausted:
            return []
        return [
            f"spend limit reached: run.max_cost_usd={self.config.run.max_cost_usd}; "
            "calls after it were not made and are reported as budget_exhausted"
        ]

    def _judge(
        self,
        cases: Sequence[Case],
        observations: Sequence[Observation],
        opened: OpenedTargets,
        cache: ResponseCache,
        spent_usd: float,
    ) -> JudgeResult | None:
        """``quality.judge``: score each output with the judge target (its cost kept apart)."""
        settings = self.quality.judge
        if settings is None or not observations:
            return None
        target = judge_target_config(self.config.targets[settings.target], settings)
        client = opened.client(target)
        run = self.run_config
        if run.max_cost_usd is not None:  # one spend limit for the calls and their judging
            run = replace(run, max_cost_usd=max(0.0, run.max_cost_usd - spent_usd))
        result = judge_outputs(
            cases, observations, settings, client, run, self.config.pricing, cache=cache
        )
        self.judge_runs.append(
            {"target": settings.target, "model": target.model, **result.to_dict()}
        )
        return result

    def _helper_targets(self) -> dict[str, TargetConfig]:
        """Targets that score rather than answer: the judge and the embeddings endpoint."""
        quality = self.quality
        names = [quality.embeddings_target, quality.judge.target if quality.judge else None]
        return {n: self.config.targets[n] for n in names if n is not None}

    def judge_summary(self) -> dict[str, Any] | None:
        """The judge's calls, errors, mean score and cost over every run (and worker)."""
        return merge_judge_runs(self.judge_runs)

    def _embedder(self, opened: OpenedTargets) -> EmbeddingClient | None:
        settings = self.quality
        name = settings.embeddings_target
        if name is None:
            return None
        return opened.embedder(name, settings.embeddings_model)  # a target checked in __init__

    def _all_cases(self) -> list[Case]:
        """Every case of the golden sets (the simulator answers them from their references)."""
        return [case for golden in self.golden_sets for case in golden.cases]

    def _store(
        self,
        cases: Sequence[Case],
        observations: Sequence[Observation],
        embed: EmbeddingClient | None = None,
        judge: JudgeResult | None = None,
    ) -> None:
        """Score observations, keep them, and publish them to the other xdist workers."""
        scored = score_batch(
            cases,
            observations,
            self.config.quality,
            embed=embed,
            judge_scores=judge.scores if judge else None,
            judge_reasons=judge.reasons if judge else None,
        )
        self._own.extend(scored)
        for s in scored:
            self._results[(s.observation.case_key, s.observation.target)].append(s)
        publish(self.worker, scored, self.rounds)

    def _adaptive_rounds(
        self,
        on_observation: Callable[[CallUnit, Observation], None],
        observed: list[tuple[Case, Observation]],
        opened: OpenedTargets,
    ) -> None:
        """``gate.adaptive``: re-run the cases of borderline budgets, one repeat per round.

        Every worker judges the same whole-run data (seeded statistics), so all of them
        take the same decision and each re-runs its own share of the cases.
        """
        for round_index in range(1, self.config.gate.adaptive_rounds + 1):
            shaky = [c for c in self.judgement_of_whole_run().comparisons if borderline(c)]
            if not shaky:
                return
            extra = self._extra_units(shaky, round_index)
            self.rounds = round_index
            self._run_engine(extra, on_observation, observed, opened)
            metrics = ", ".join(sorted({c.metric for c in shaky}))
            self.notes.append(
                f"gate.adaptive: round {round_index} repeated the cases of borderline "
                f"budgets ({metrics})"
            )

    def _extra_units(self, shaky: Sequence[Comparison], round_index: int) -> list[CallUnit]:
        """One more repeat, on both compared targets, of this worker's in-scope cases."""
        wanted: set[tuple[str, str]] = set()
        for c in shaky:
            sides = {c.candidate, c.baseline} & set(self.targets)  # a saved run cannot re-run
            for unit in self._units:
                in_scope = c.budget.scope == "all" or c.budget.scope in scopes_of(unit.case)
                if unit.target in sides and in_scope:
                    wanted.add((unit.case.key, unit.target))
        base = self.run_config.repeat
        extra: list[CallUnit] = []
        seen: set[tuple[str, str]] = set()
        for unit in self._units:
            ident = (unit.case.key, unit.target)
            mine = self._owners.get(unit.case.key) == self.worker.index
            if ident in wanted and ident not in seen and mine:
                seen.add(ident)
                first_extra = max(unit.case.repeat, base)
                extra.append(CallUnit(unit.case, unit.target, first_extra + round_index - 1))
        return extra

    def _partition(self, index: int) -> list[ScoredObservation]:
        """Another worker's published results of every round so far (each file loaded once)."""
        assert self.worker.run_dir is not None
        everything: list[ScoredObservation] = []
        for round_index in range(self.rounds + 1):
            key = (index, round_index)
            if key not in self._partitions:
                loaded = wait_for_partition(
                    self.worker.run_dir, index, self._handover_deadline(), round_index
                )
                self._partitions[key] = loaded
                for s in loaded:
                    self._results[(s.observation.case_key, s.observation.target)].append(s)
            everything.extend(self._partitions[key])
        return everything

    def results_for(self, case_key: str, target: str) -> list[ScoredObservation]:
        """The scored repeats of one item; waits for another worker's partition if needed."""
        key = (case_key, target)
        if self._child is not None and not self._has_all(key):
            self._receive(until=key)
        if key not in self._results and self.child_failure is not None:
            raise EngineError(f"not called: {self.child_failure}")
        owner = self._owners.get(case_key)
        if owner is not None and owner != self.worker.index and self.worker.run_dir is not None:
            self._partition(owner)
        return sorted(self._results.get(key, []), key=lambda s: s.observation.repeat_index)

    def _handover_deadline(self) -> float:
        run = self.run_config
        rounds = math.ceil(max(1, len(self._units)) / max(1, run.concurrency))
        return 60.0 + rounds * run.timeout_s * (run.retries.max + 1)

    # ---- xdist: workers export, the controller absorbs ------------------------------------

    def export(self) -> str:
        """This process's own scored results and notes, for ``workeroutput``."""
        return json.dumps(
            {
                "scored": [s.to_dict() for s in self._own],
                "notes": self.notes,
                "judge_runs": self.judge_runs,
            },
            ensure_ascii=False,
        )

    def absorb(self, exported: str) -> None:
        """Merge a worker's exported results (controller side)."""
        data = json.loads(exported)
        self._own.extend(ScoredObservation.from_dict(d) for d in data["scored"])
        self.notes.extend(n for n in data["notes"] if n not in self.notes)
        self.judge_runs.extend(data.get("judge_runs", []))

    def absorb_published(self, run_dir: str) -> None:
        """Take every worker's published results from ``run_dir`` (an interrupted controller)."""
        self._own = [s for index, s in iter_published(run_dir)]

    def add_cases(self, cases: Mapping[str, Case]) -> None:
        self.cases.update(cases)

    # ---- judging and reporting ----------------------------------------------------------

    def all_results(self) -> list[ScoredObservation]:
        self._receive()
        return list(self._own)

    def settle_calls(self, *, stop: bool = False) -> None:
        """Take every result a call child still has; ``stop`` (Ctrl-C) asks it to stop first
        and bounds the wait. Afterwards ``interrupted`` and ``call_seconds`` are final."""
        self._receive(stop=stop)

    def close(self) -> None:
        """Never leave a call child behind (a session that ended without settling)."""
        child, self._child = self._child, None
        if child is not None:
            child.interrupt()
            child.reap(timeout_s=5.0)

    def case_scopes(self) -> dict[str, frozenset[str]]:
        return {key: scopes_of(c) for key, c in self.cases.items()}

    def judge(self, scored: Sequence[ScoredObservation]) -> Judgement:
        """Summaries per target and one comparison per budget (and target) for ``scored``."""
        from pytest_llmguard.report.saved import load_run

        by_target: dict[str, list[ScoredObservation]] = defaultdict(list)
        for s in scored:
            by_target[s.observation.target].append(s)
        scopes = self.case_scopes()
        summaries = {
            name: summarize(name, t.provider, t.model, by_target[name], case_scopes=scopes)
            for name, t in self.targets.items()
            if by_target.get(name)
        }
        comparisons: list[Comparison] = []
        notes = list(self.notes)
        baseline_summary: RunSummary | None = None
        candidate_name: str | None = None
        baseline_label: str | None = None
        compare_cfg = self.config.compare
        if compare_cfg is not None:
            candidate_name = compare_cfg.candidate
        elif len(summaries) == 1:
            candidate_name = next(iter(summaries))
        saved_path = self.options.baseline_path
        if (
            saved_path is None
            and compare_cfg is not None
            and compare_cfg.baseline.endswith(".json")
        ):
            saved_path = str(Path(self.config.rootdir) / compare_cfg.baseline)
        baseline_scored: Sequence[ScoredObservation] = ()
        if saved_path is not None:
            saved = load_run(saved_path)
            baseline_summary = saved.pick(candidate_name)
            baseline_label = saved_path
            baseline_scored = [
                s for s in saved.scored if s.observation.target == baseline_summary.target
            ]
        elif compare_cfg is not None:
            baseline_label = compare_cfg.baseline
            baseline_summary = summaries.get(baseline_label)
            baseline_scored = by_target.get(baseline_label, [])
            if baseline_summary is None:
                notes.append(
                    f"no comparison: baseline target '{baseline_label}' did not run (deselected?)"
                )
        candidate = summaries.get(candidate_name) if candidate_name else None
        if baseline_summary is not None and candidate is not None:
            comparisons.extend(
                compare(
                    baseline_summary,
                    candidate,
                    self.budgets,
                    self.config.gate,
                    case_scopes=scopes,
                    baseline_label=baseline_label,
                )
            )
        elif baseline_summary is not None and candidate_name:
            notes.append(f"no comparison: candidate target '{candidate_name}' did not run")
        for name, summary in summaries.items():
            if comparisons and name in (candidate_name, compare_cfg and compare_cfg.baseline):
                continue  # judged relative to the baseline above; the baseline is not gated
            comparisons.extend(
                check_absolute(summary, self.budgets, self.config.gate, case_scopes=scopes)
            )
        regressions: tuple[CaseRegression, ...] = ()
        if candidate_name and baseline_scored:
            regressions = find_regressions(baseline_scored, by_target.get(candidate_name, []))
        return Judgement(summaries, tuple(comparisons), tuple(notes), regressions)

    def finish(self, *, partial: bool = False) -> Outcome:
        """Judge everything this process holds (the controller: every worker's), then report."""
        from pytest_llmguard.report import write_reports

        scored = self.all_results()
        judgement = self.judge(scored)
        finished = time.time()
        outcome = Outcome(
            started_at=_iso(self.started),
            finished_at=_iso(finished),
            duration_s=round(finished - self.started, 3),
            config_path=self.config.path,
            summaries=judgement.summaries,
            comparisons=judgement.comparisons,
            verdict=overall_verdict(judgement.comparisons),
            scored=tuple(scored),
            cases=dict(self.cases),
            targets=dict(self.targets),
            notes=judgement.notes,
            regressions=judgement.regressions,
            judge=self.judge_summary(),
            partial=partial,
        )
        written = write_reports(outcome, self._report_paths(), save_path=self.options.save_path)
        return replace(outcome, reports_written=tuple(written))

    def judgement_of_whole_run(self) -> Judgement:
        """The judgement over every partition (waiting for other xdist workers), computed once.

        Budget items use it so each budget's verdict is a test result in JUnit XML; it
        equals the controller's final judgement because every statistic is seeded.
        """
        if self.rounds not in self._whole_run:
            self._receive()
            everything = list(self._own)
            if self.worker.run_dir is not None:
                for index in range(self.worker.count):
                    if index != self.worker.index:
                        everything.extend(self._partition(index))
            self._whole_run[self.rounds] = self.judge(everything)
        return self._whole_run[self.rounds]

    def _report_paths(self) -> dict[str, str]:
        cfg = self.config.report
        paths = {
            "json": self.options.report_json or cfg.json,
            "markdown": self.options.report_markdown or cfg.markdown,
            "html": self.options.report_html or cfg.html,
        }
        root = Path(self.config.rootdir)
        return {k: str(root / v) for k, v in paths.items() if v}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
