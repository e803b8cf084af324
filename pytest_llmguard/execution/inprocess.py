"""Calls in this process: every call of a round made before the first item runs.

The providers stay open from :meth:`InProcessCalls.start` to :meth:`settle`, so one
in-process simulator serves the first calls and every adaptive round (its attempt
counters make each repeat a fresh sample, as from a real provider), and the judge and
embeddings score each batch while it still runs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

from pytest_llmguard.execution.base import ItemKey, KeptResults, unscored
from pytest_llmguard.execution.calls import CallWork
from pytest_llmguard.records import Case, Observation, ScoredObservation
from pytest_llmguard.runner import CallUnit


class InProcessCalls(KeptResults):
    """Make each round's calls now, score them, keep them by item."""

    description = "in process"
    streams = False

    def __init__(self, work: CallWork) -> None:
        super().__init__()
        self.work = work
        self.notes = work.notes
        self.rounds: dict[int, list[ScoredObservation]] = {}
        self._stack = contextlib.ExitStack()

    @property
    def streaming(self) -> bool:
        return False

    def start(self, units: Sequence[CallUnit]) -> None:
        self._stack.enter_context(self.work.opened())
        self._run(units, 0)

    def run_more(self, units: Sequence[CallUnit], round_index: int) -> None:
        self._run(units, round_index)

    def _run(self, units: Sequence[CallUnit], round_index: int) -> None:
        t0 = time.perf_counter()
        observed: list[tuple[Case, Observation]] = []

        def on_observation(unit: CallUnit, obs: Observation) -> None:
            observed.append((unit.case, obs))

        try:
            spent = 0.0
            if units:
                _, spent = self.work.observe(units, on_observation)
            self._keep(round_index, observed, spent, helpers=True)
        except KeyboardInterrupt:
            # Ctrl-C: keep what was observed so the partial report shows it (no judge
            # calls now), then let pytest end the session as interrupted (exit 2).
            self._interrupted = True
            self._keep(round_index, observed, 0.0, helpers=False)
            raise
        except Exception as exc:  # the engine broke: keep what came, say so
            why = f"the calls stopped early: {type(exc).__name__}: {exc}"
            self.failures.append(why)
            self.notes.append(f"{why}; cases without a result are reported as not called")
            self._keep(round_index, observed, 0.0, helpers=False)
        finally:
            self._seconds += time.perf_counter() - t0

    def _keep(
        self,
        round_index: int,
        observed: list[tuple[Case, Observation]],
        spent: float,
        *,
        helpers: bool,
    ) -> None:
        pairs, observed[:] = list(observed), []  # kept once, even if Ctrl-C comes later
        cases, observations = [c for c, _ in pairs], [o for _, o in pairs]
        scored = self._scored(cases, observations, spent, helpers=helpers)
        self.rounds.setdefault(round_index, []).extend(scored)
        self._index(scored)

    def _scored(
        self, cases: list[Case], observations: list[Observation], spent: float, *, helpers: bool
    ) -> list[ScoredObservation]:
        """Scored observations; a scorer that breaks as a whole costs the scores (and makes
        the run incomplete), never the observations (each case's own errors are its own)."""
        try:
            return self.work.score(cases, observations, spent, helpers=helpers)
        except Exception as exc:
            why = f"scoring failed: {type(exc).__name__}: {exc}"
        if helpers:  # the judge or embeddings broke it: score without them
            try:
                scored = self.work.score(cases, observations, spent, helpers=False)
            except Exception:  # not the helpers: scoring itself
                pass
            else:
                self.notes.append(f"{why}; scored without the judge and embeddings")
                return scored
        self.failures.append(why)
        return unscored(observations, why)

    def results_for(self, key: ItemKey) -> list[ScoredObservation]:
        return self._kept(key)

    def own_results(self) -> list[ScoredObservation]:
        return [s for r in sorted(self.rounds) for s in self.rounds[r]]

    def everything(self) -> list[ScoredObservation]:
        return self.own_results()

    def settle(self, *, stop: bool = False) -> None:
        self._stack.close()

    def close(self) -> None:
        self._stack.close()
