"""The work every way of calling shares: open the providers, run the engine, score.

``CallWork`` knows the run's config and targets; it makes a batch of calls with the
engine (cache, pricing, retries, rate share), and turns observations into scored ones,
with the LLM judge and embedding similarity when they are configured (both need the
providers open, so scoring happens inside :meth:`CallWork.opened` where they are).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config import Config, TargetConfig
from pytest_llmguard.judge import JudgeResult, judge_outputs, judge_target_config
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case, Observation, ScoredObservation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.scoring import score_batch
from pytest_llmguard.targets.registry import OpenedTargets, open_targets

OnObservation = Callable[[CallUnit, Observation], None]


class CallWork:
    """Calls and scoring for this process: the same code whichever strategy drives it."""

    def __init__(
        self,
        config: Config,
        targets: Sequence[str],
        cases: Sequence[Case],
        *,
        rate_share: float = 1.0,
    ) -> None:
        self.config = config
        self.targets = tuple(targets)
        self.cases = tuple(cases)
        self.rate_share = rate_share
        self.notes: list[str] = []
        self.judge_runs: list[dict[str, Any]] = []  # one JudgeResult.to_dict() per batch
        self.cache = ResponseCache(
            Path(config.rootdir) / config.cache.dir,
            config.cache.mode,
            Redactor.of(config.redact),
        )
        self._opened: OpenedTargets | None = None

    @property
    def needs_whole_batch(self) -> bool:
        """Whether scoring needs every observation at once (judge, embeddings)."""
        return bool(self.config.quality.helper_targets())

    @contextlib.contextmanager
    def opened(self) -> Iterator[None]:
        """Keep the providers open (an in-process simulator runs) for the calls and scoring."""
        if self._opened is not None:
            yield
            return
        names = (*self.targets, *self.config.quality.helper_targets())
        wanted = {n: self.config.targets[n] for n in dict.fromkeys(names)}
        with open_targets(self.config, wanted, self.cases) as opened:
            self._opened = opened
            try:
                yield
            finally:
                self._opened = None

    def _targets(self) -> OpenedTargets:
        if self._opened is None:
            raise RuntimeError("CallWork used outside opened()")
        return self._opened

    def engine(self) -> Engine:
        """A fresh engine over fresh clients (an engine closes its clients after a run)."""
        return Engine(
            self._targets().clients(self.targets),
            self.config.run,
            cache=self.cache,
            pricing=self.config.pricing,
            rate_share=self.rate_share,
        )

    def observe(
        self, units: Sequence[CallUnit], on_observation: OnObservation | None = None
    ) -> tuple[list[Observation], float]:
        """Make the calls of ``units``; returns the observations and the money spent."""
        engine = self.engine()
        observations = asyncio.run(engine.run(units, on_observation))
        self.notes.extend(spend_notes(engine, self.config))
        return observations, engine.spend.spent_usd

    def score(
        self,
        cases: Sequence[Case],
        observations: Sequence[Observation],
        spent_usd: float = 0.0,
        *,
        helpers: bool = True,
    ) -> list[ScoredObservation]:
        """Score a batch, with the judge and embeddings where configured (providers open).

        ``helpers=False`` scores without them (an interrupted run makes no more calls).
        """
        helped = helpers and self._opened is not None
        judged = self._judge(cases, observations, spent_usd) if helped else None
        embedder = self._embedder() if helped else None
        scored = score_batch(
            cases,
            observations,
            self.config.quality,
            embed=embedder,
            judge_scores=judged.scores if judged else None,
            judge_reasons=judged.reasons if judged else None,
        )
        if embedder is not None and embedder.problem:
            note = f"embeddings unavailable ({embedder.problem}); similarity is fuzzy only"
            if note not in self.notes:
                self.notes.append(note)
        return scored

    def _judge(
        self, cases: Sequence[Case], observations: Sequence[Observation], spent_usd: float
    ) -> JudgeResult | None:
        """``quality.judge``: score each output with the judge target (its cost kept apart)."""
        settings = self.config.quality.judge
        if settings is None or not observations:
            return None
        target = judge_target_config(self.config.targets[settings.target], settings)
        client = self._targets().client(target)
        run = self.config.run
        if run.max_cost_usd is not None:  # one spend limit for the calls and their judging
            run = replace(run, max_cost_usd=max(0.0, run.max_cost_usd - spent_usd))
        result = judge_outputs(
            cases, observations, settings, client, run, self.config.pricing, cache=self.cache
        )
        self.judge_runs.append(
            {"target": settings.target, "model": target.model, **result.to_dict()}
        )
        return result

    def _embedder(self) -> Any:
        quality = self.config.quality
        if quality.embeddings_target is None:
            return None
        return self._targets().embedder(quality.embeddings_target, quality.embeddings_model)


def spend_notes(engine: Engine, config: Config) -> list[str]:
    if not engine.spend.exhausted:
        return []
    return [
        f"spend limit reached: run.max_cost_usd={config.run.max_cost_usd}; "
        "calls after it were not made and are reported as budget_exhausted"
    ]


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


def target_configs(config: Config, names: Sequence[str]) -> dict[str, TargetConfig]:
    return {n: config.targets[n] for n in names}
