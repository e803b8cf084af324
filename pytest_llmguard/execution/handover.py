"""Split the calls between xdist workers and hand results over, so each case is called once.

Every xdist worker collects every item, but the scheduler decides at run time which
worker runs which item. So each worker calls only its *partition* (a deterministic
round-robin of the selected cases, all targets and repeats of a case together, so
baseline and candidate of a case stay interleaved), then publishes its scored results
as one file in a run directory the controller created. A worker asked to run an item
from another partition waits (bounded) for that partition's file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.records import ScoredObservation

if TYPE_CHECKING:
    from pytest_llmguard.runner import CallUnit

POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class Worker:
    """This process's place among xdist workers (index 0 of 1 without xdist)."""

    index: int = 0
    count: int = 1
    run_dir: str | None = None

    @property
    def name(self) -> str:
        return f"gw{self.index}"


def partition_of(case_order: int, count: int) -> int:
    """The worker index that calls the case at ``case_order`` in the selection."""
    return case_order % count


def case_partitions(units: Sequence[CallUnit], count: int) -> dict[str, int]:
    """Case key → owning worker index, round-robin in order of first appearance."""
    owners: dict[str, int] = {}
    for unit in units:
        if unit.case.key not in owners:
            owners[unit.case.key] = partition_of(len(owners), count)
    return owners


def own_units(units: Sequence[CallUnit], worker: Worker) -> list[CallUnit]:
    """The units this worker must call."""
    owners = case_partitions(units, worker.count)
    return [u for u in units if owners[u.case.key] == worker.index]


def _partition_file(run_dir: str, index: int, round_index: int) -> Path:
    return Path(run_dir) / f"scored-gw{index}-r{round_index}.json"


def publish(worker: Worker, scored: Sequence[ScoredObservation], round_index: int = 0) -> None:
    """Write this worker's scored results of one round for the other workers (atomically)."""
    if worker.run_dir is None:
        return
    payload = json.dumps([s.to_dict() for s in scored], ensure_ascii=False)
    write_atomic(_partition_file(worker.run_dir, worker.index, round_index), payload)


def iter_published(run_dir: str) -> Iterator[tuple[int, ScoredObservation]]:
    """Every published result in ``run_dir`` with its worker index (readable files only)."""
    for path in sorted(Path(run_dir).glob("scored-gw*-r*.json")):
        index = int(path.name[len("scored-gw") :].split("-", 1)[0])
        try:
            entries = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        for d in entries:
            yield index, ScoredObservation.from_dict(d)


def published_rounds(run_dir: str) -> int:
    """The latest round any worker published (the looks a sequential gate made)."""
    rounds = [int(p.stem.rsplit("-r", 1)[1]) for p in Path(run_dir).glob("scored-gw*-r*.json")]
    return max(rounds, default=0)


def wait_for_partition(
    run_dir: str, index: int, deadline_s: float, round_index: int = 0
) -> list[ScoredObservation]:
    """Load another worker's results of one round, waiting at most ``deadline_s`` seconds.

    Raises TimeoutError when the partition never appears (that worker crashed or hung).
    """
    path = _partition_file(run_dir, index, round_index)
    give_up = time.monotonic() + deadline_s
    while not path.exists():
        if time.monotonic() > give_up:
            raise TimeoutError(
                f"worker gw{index} did not publish its results within {deadline_s:.0f} s "
                "(it may have crashed; see its output above)"
            )
        time.sleep(POLL_S)
    return [ScoredObservation.from_dict(d) for d in json.loads(path.read_bytes())]
