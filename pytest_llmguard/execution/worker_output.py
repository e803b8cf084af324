"""What an xdist worker hands its controller at the end (``workeroutput``), as one JSON string.

The worker's scored results, its notes, its judge's calls, the adaptive rounds it made,
what its selection left unjudged and why it is incomplete. The controller merges each
worker's share with :func:`decode` (see ``GuardSession.absorb``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.records import ScoredObservation


@dataclass(frozen=True, slots=True)
class WorkerOutput:
    scored: tuple[ScoredObservation, ...]
    notes: tuple[str, ...]
    judge_runs: tuple[dict[str, Any], ...]
    rounds: int
    unjudged: tuple[str, ...]
    incomplete: tuple[str, ...]


def encode(
    scored: Sequence[ScoredObservation],
    *,
    notes: Sequence[str],
    judge_runs: Sequence[dict[str, Any]],
    rounds: int,
    unjudged: Sequence[str],
    incomplete: Sequence[str],
) -> str:
    return json.dumps(
        {
            "scored": [s.to_dict() for s in scored],
            "notes": list(notes),
            "judge_runs": list(judge_runs),
            "rounds": rounds,
            "unjudged": list(unjudged),
            "incomplete": list(incomplete),
        },
        ensure_ascii=False,
    )


def decode(exported: str) -> WorkerOutput:
    data = json.loads(exported)
    return WorkerOutput(
        scored=tuple(ScoredObservation.from_dict(d) for d in data["scored"]),
        notes=tuple(data["notes"]),
        judge_runs=tuple(data.get("judge_runs", [])),
        rounds=int(data.get("rounds", 0)),
        unjudged=tuple(data.get("unjudged", [])),
        incomplete=tuple(data.get("incomplete", [])),
    )
