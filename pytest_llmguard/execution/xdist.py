"""Under xdist: this worker calls its own share of the cases and hands results over.

Every worker collects every item, but each calls only its partition (``handover``),
publishes its scored results of each round, and reads another worker's partition when
the scheduler gives it one of that worker's items. Each case is called exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pytest_llmguard.execution.base import ItemKey
from pytest_llmguard.execution.handover import (
    PartitionLost,
    Worker,
    await_published,
    case_partitions,
    iter_published,
    publish,
    wait_for_partition,
)
from pytest_llmguard.execution.inprocess import InProcessCalls
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.runner import CallUnit


class WorkerShare:
    """This worker's share, called in process, plus the other workers' published results."""

    description = "in process, this xdist worker's share"
    streams = False

    def __init__(
        self,
        inner: InProcessCalls,
        worker: Worker,
        planned: Sequence[CallUnit],
        deadline_s: float,
    ) -> None:
        self.inner = inner
        self.notes = inner.notes
        self.worker = worker
        self.owners = case_partitions(planned, worker.count)
        self.deadline_s = deadline_s
        self.round = 0  # the latest round every worker has made (adaptive rounds)
        self._partitions: dict[tuple[int, int], list[ScoredObservation]] = {}
        self._others: dict[ItemKey, list[ScoredObservation]] = defaultdict(list)
        self._lost: dict[int, str] = {}  # worker index -> why its results never came

    @property
    def failures(self) -> list[str]:
        return [*self.inner.failures, *self._lost.values()]

    @property
    def streaming(self) -> bool:
        return False

    @property
    def call_seconds(self) -> float:
        return self.inner.call_seconds

    @property
    def interrupted(self) -> bool:
        return self.inner.interrupted

    def start(self, units: Sequence[CallUnit]) -> None:
        try:
            self.inner.start(units)
        finally:  # an interrupted worker still publishes what it has
            publish(self.worker, self.inner.rounds.get(0, []), 0, self.inner.work.cache.redactor)

    def run_more(self, units: Sequence[CallUnit], round_index: int) -> None:
        try:
            self.inner.run_more(units, round_index)
        finally:
            rounds = self.inner.rounds.get(round_index, [])
            publish(self.worker, rounds, round_index, self.inner.work.cache.redactor)
            self.round = round_index

    def _partition(self, index: int) -> list[ScoredObservation]:
        """Another worker's published results of every round so far (each file read once)."""
        assert self.worker.run_dir is not None
        if index in self._lost:  # known once, told at once: no second wait
            raise PartitionLost(self._lost[index])
        everything: list[ScoredObservation] = []
        for round_index in range(self.round + 1):
            key = (index, round_index)
            if key not in self._partitions:
                try:
                    loaded = wait_for_partition(
                        self.worker.run_dir, index, self.deadline_s, round_index
                    )
                except PartitionLost as exc:
                    self._lost[index] = str(exc)
                    raise
                self._partitions[key] = loaded
                for s in loaded:
                    self._others[(s.observation.case_key, s.observation.target)].append(s)
            everything.extend(self._partitions[key])
        return everything

    def results_for(self, key: ItemKey) -> list[ScoredObservation]:
        owner = self.owners.get(key[0])
        if owner is None or owner == self.worker.index:
            return self.inner.results_for(key)
        self._partition(owner)
        return list(self._others.get(key, ()))

    def own_results(self) -> list[ScoredObservation]:
        return self.inner.own_results()

    def everything(self) -> list[ScoredObservation]:
        found = self.inner.own_results()
        for index in range(self.worker.count):
            if index != self.worker.index:
                found.extend(self._partition(index))
        return found

    def settle(self, *, stop: bool = False) -> None:
        self.inner.settle(stop=stop)

    def close(self) -> None:
        self.inner.close()


def published_results(
    run_dir: str, only: int | None = None, *, wait_s: float = 0.0
) -> list[ScoredObservation]:
    """Every worker's published results (an interrupted controller takes these), or
    worker ``only``'s (a crashed worker's, as far as it got); ``wait_s`` first gives
    interrupted workers that long to publish what they have."""
    if wait_s > 0:
        await_published(run_dir, wait_s)
    return [s for _, s in iter_published(run_dir, only)]
