"""How this process makes its calls: pick a strategy (see ``execution.base``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_llmguard.execution.base import CallStrategy, ItemKey
from pytest_llmguard.execution.calls import CallWork, merge_judge_runs
from pytest_llmguard.execution.forked import ForkedCalls, allowed
from pytest_llmguard.execution.handover import Worker, case_partitions, claim, own_units
from pytest_llmguard.execution.inprocess import InProcessCalls
from pytest_llmguard.execution.xdist import WorkerShare, published_results
from pytest_llmguard.runner import CallUnit

__all__ = [
    "CallStrategy",
    "CallWork",
    "ItemKey",
    "Worker",
    "case_partitions",
    "choose",
    "claim",
    "merge_judge_runs",
    "own_units",
    "published_results",
]


def handover_deadline(work: CallWork, planned: Sequence[CallUnit]) -> float:
    """How long a worker waits for another's share: its calls' worst case, plus a minute."""
    run = work.config.run
    rounds = math.ceil(max(1, len(planned)) / max(1, run.concurrency))
    return 60.0 + rounds * run.timeout_s * (run.retries.max + 1)


def choose(
    work: CallWork,
    worker: Worker,
    planned: Sequence[CallUnit],
    own: Sequence[CallUnit],
    *,
    more_rounds: bool = False,
) -> CallStrategy:
    """The way to make ``own`` (this process's share of ``planned``) calls.

    xdist workers call in process and hand over; a single process streams from a forked
    child where that is safe and nothing needs the whole batch (``more_rounds``: the
    sequential gate may call again after judging the first calls); otherwise in process.
    """
    if worker.run_dir is not None:
        return WorkerShare(InProcessCalls(work), worker, planned, handover_deadline(work, planned))
    if own and worker.count == 1 and not more_rounds and allowed(work):
        return ForkedCalls(work)
    return InProcessCalls(work)
