"""How calls are made: one small interface, one module per way.

- ``inprocess.InProcessCalls``: in this process, all before the first item runs (and
  again for adaptive rounds); the only way when scoring needs the whole batch.
- ``forked.ForkedCalls``: in a forked child that streams each result back while the
  items run (Linux, one thread, nothing needing the whole batch).
- ``xdist.WorkerShare``: under xdist, this worker calls its own share (with an inner
  strategy) and hands results over to the workers that run the other items.

The session picks one (``execution.choose``) and talks to it only through this protocol.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.records import CheckResult, Observation, ScoredObservation
from pytest_llmguard.runner import CallUnit

ItemKey = tuple[str, str]  # (case key, target)


class CallStrategy(Protocol):
    """Makes this process's calls and hands each item its scored results."""

    #: how the calls are made, for the terminal ("in process", "in a forked child", ...)
    description: str
    #: notes for the report (spend limit reached, a child that failed, ...)
    notes: list[str]
    #: whether results arrive while the items run (else all calls are done first)
    streams: bool

    @property
    def streaming(self) -> bool:
        """True when results arrive while the items run (the calls are not done yet)."""
        ...

    @property
    def call_seconds(self) -> float:
        """Wall time of the calls (final once :meth:`settle` has returned)."""
        ...

    @property
    def interrupted(self) -> bool:
        """Whether the calls were cut short (Ctrl-C, a child that died)."""
        ...

    @property
    def failures(self) -> list[str]:
        """Why this process's calls did not all complete (a crashed engine or call
        process, a lost xdist partition): each makes the run incomplete."""
        ...

    def start(self, units: Sequence[CallUnit]) -> None:
        """Begin this process's calls (in process: make them all before returning)."""
        ...

    def run_more(self, units: Sequence[CallUnit], round_index: int) -> None:
        """Make extra calls (an adaptive round) after :meth:`start`; in process only."""
        ...

    def results_for(self, key: ItemKey) -> list[ScoredObservation]:
        """One item's scored repeats (waiting for them if they are still coming)."""
        ...

    def own_results(self) -> list[ScoredObservation]:
        """Every result this process made (the calls must have settled)."""
        ...

    def everything(self) -> list[ScoredObservation]:
        """Every result of the whole run so far (under xdist, every worker's)."""
        ...

    def settle(self, *, stop: bool = False) -> None:
        """Take every result still coming; ``stop`` (Ctrl-C) asks the calls to stop first."""
        ...

    def close(self) -> None:
        """Release what the calls hold (providers, a child process); idempotent."""
        ...


class KeptResults:
    """What the in-process and forked strategies share: results kept by item, timings."""

    def __init__(self) -> None:
        self._by_item: dict[ItemKey, list[ScoredObservation]] = defaultdict(list)
        self._seconds = 0.0
        self._interrupted = False
        self.failures: list[str] = []

    @property
    def call_seconds(self) -> float:
        return self._seconds

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    def _index(self, scored: Sequence[ScoredObservation]) -> None:
        for one in scored:
            self._by_item[(one.observation.case_key, one.observation.target)].append(one)

    def _kept(self, key: ItemKey) -> list[ScoredObservation]:
        """The item's results; EngineError naming the failure when the calls broke off
        before it got any (so the item says why instead of "not called")."""
        if key not in self._by_item and self.failures:
            raise EngineError(f"not called: {self.failures[0]}")
        return list(self._by_item.get(key, ()))


def unscored(observations: Sequence[Observation], why: str) -> list[ScoredObservation]:
    """Observations kept without scores, each failing one check that says why."""
    check = CheckResult("scoring", False, why)
    return [ScoredObservation(o, (check,), {}) for o in observations]
