"""Split the calls between xdist workers and hand results over, so each case is called once.

Every xdist worker collects every item, but the scheduler decides at run time which
worker runs which item. So each worker calls only its *partition* (a deterministic
round-robin of the selected cases, all targets and repeats of a case together, so
baseline and candidate of a case stay interleaved), then publishes its scored results
as one file in a run directory the controller created. A worker asked to run an item
from another partition waits (bounded) for that partition's file.

A worker that dies before publishing (killed, out of memory) must not stall the others
for the whole deadline, item after item: from the start of its session, each worker
holds a lock on a file of its own (``claim``), and a waiter that finds the lock free and
no partition knows at once that the partition is lost (POSIX; elsewhere only the
deadline tells).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.records import ScoredObservation

if TYPE_CHECKING:
    from pytest_llmguard.privacy.redactor import Redactor
    from pytest_llmguard.runner import CallUnit

POLL_S = 0.02
_LIVENESS_EVERY = 10  # polls between checks of the owner's lock


class PartitionLost(EngineError, TimeoutError):
    """Another worker's results will never come: it died before publishing, or timed out."""


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


def _claim_file(run_dir: str, index: int) -> Path:
    return Path(run_dir) / f"alive-gw{index}.lock"


def claim(worker: Worker) -> int | None:
    """Hold this worker's lock for the rest of the process: the others see it alive.

    Returns the descriptor (kept open: the lock goes when the process does, however it
    ends), or None where there is no run directory or no ``flock``.
    """
    if worker.run_dir is None:
        return None
    try:
        import fcntl
    except ImportError:  # not POSIX: waiters fall back on the deadline
        return None
    fd = os.open(_claim_file(worker.run_dir, worker.index), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())  # whom a controller's SIGTERM is passed to
    except OSError:
        os.close(fd)
        return None
    return fd


def owner_gone(run_dir: str, index: int) -> bool:
    """Whether worker ``index`` claimed its partition and is no longer alive to publish it."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(_claim_file(run_dir, index), os.O_RDWR)
    except OSError:  # not claimed yet: the owner has not started calling
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held: the owner is alive
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def publish(
    worker: Worker,
    scored: Sequence[ScoredObservation],
    round_index: int = 0,
    redactor: Redactor | None = None,
) -> None:
    """Write this worker's scored results of one round for the other workers (atomically).

    The file is on disk (a private temporary folder, but a crash leaves it there), so with
    ``redact:`` it holds what every other artefact holds: the redacted outputs and error
    messages. The scores and verdicts were made from the raw text before.
    """
    if worker.run_dir is None:
        return
    if redactor is not None and redactor.enabled:
        from pytest_llmguard.privacy.artefacts import redact_scored

        scored = [redact_scored(s, redactor) for s in scored]
    payload = json.dumps([s.to_dict() for s in scored], ensure_ascii=False)
    write_atomic(_partition_file(worker.run_dir, worker.index, round_index), payload)


def iter_published(
    run_dir: str, only: int | None = None
) -> Iterator[tuple[int, ScoredObservation]]:
    """Every published result in ``run_dir`` with its worker index (readable files only);
    ``only`` limits it to one worker's."""
    pattern = "scored-gw*-r*.json" if only is None else f"scored-gw{only}-r*.json"
    for path in sorted(Path(run_dir).glob(pattern)):
        index = int(path.name[len("scored-gw") :].split("-", 1)[0])
        try:
            entries = json.loads(path.read_bytes())
            scored = [ScoredObservation.from_dict(d) for d in entries]
        except (OSError, KeyError, TypeError, ValueError):
            continue
        for one in scored:
            yield index, one


def published_rounds(run_dir: str) -> int:
    """The latest round any worker published (the looks a sequential gate made)."""
    rounds = [int(p.stem.rsplit("-r", 1)[1]) for p in Path(run_dir).glob("scored-gw*-r*.json")]
    return max(rounds, default=0)


def wait_for_partition(
    run_dir: str, index: int, deadline_s: float, round_index: int = 0
) -> list[ScoredObservation]:
    """Load another worker's results of one round, waiting at most ``deadline_s`` seconds.

    Raises PartitionLost as soon as that worker is known dead without having published
    (see ``claim``), or when the deadline passes (it hung).
    """
    path = _partition_file(run_dir, index, round_index)
    give_up = time.monotonic() + deadline_s
    polls = 0
    while not path.exists():
        polls += 1
        if polls % _LIVENESS_EVERY == 0 and owner_gone(run_dir, index) and not path.exists():
            raise PartitionLost(
                f"xdist worker gw{index} exited before handing over its results (it crashed?); "
                "its share of the cases was not called"
            )
        if time.monotonic() > give_up:
            raise PartitionLost(
                f"xdist worker gw{index} did not publish its results within "
                f"{deadline_s:.0f} s (it hung or crashed; see its output above)"
            )
        time.sleep(POLL_S)
    try:
        return [ScoredObservation.from_dict(d) for d in json.loads(path.read_bytes())]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise PartitionLost(f"xdist worker gw{index} handed over unusable results: {exc}") from None


def await_published(run_dir: str, timeout_s: float) -> None:
    """Wait (bounded) until every worker that claimed a partition has published it or is
    gone: an interrupted controller reads the partitions right after."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        pending = []
        for path in Path(run_dir).glob("alive-gw*.lock"):
            with contextlib.suppress(ValueError):
                index = int(path.name[len("alive-gw") : -len(".lock")])
                if not _partition_file(run_dir, index, 0).exists():
                    pending.append(index)
        if all(owner_gone(run_dir, index) for index in pending):
            return
        time.sleep(POLL_S)
