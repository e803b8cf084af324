"""Which calls a run makes, and in which order: call units, interleaved and fairly ordered.

``plan_calls`` expands the selected (case, target) items into call units, one per
repeat, grouped by case and repeat so baseline and candidate of a case are called close
together; ``fair_order`` decides which target of a group goes first. The engine
(``runner``) makes the calls in this order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_llmguard.records import Case

__all__ = ["CallUnit", "fair_order", "plan_calls"]


@dataclass(frozen=True, slots=True)
class CallUnit:
    """One planned call: a case, a target, and which repeat of the case it is."""

    case: Case
    target: str
    repeat_index: int = 0


def plan_calls(
    selected: Sequence[tuple[Case, str]], default_repeat: int = 1, *, seed: int = 0
) -> list[CallUnit]:
    """Expand (case, target) pairs into call units, interleaving targets case by case.

    Interleaving means baseline and candidate of the same case are called close together,
    so machine or provider noise hits both sides alike; :func:`fair_order` then decides
    which of them goes first in each case and repeat.
    """
    units: list[CallUnit] = []
    for case, target in selected:
        for r in range(max(case.repeat, default_repeat)):
            units.append(CallUnit(case, target, r))
    # Stable order: by case (in selection order), then repeat, then target order.
    first_seen: dict[str, int] = {}
    for case, _ in selected:
        first_seen.setdefault(case.key, len(first_seen))
    return fair_order(sorted(units, key=lambda u: (first_seen[u.case.key], u.repeat_index)), seed)


def fair_order(units: Sequence[CallUnit], seed: int = 0) -> list[CallUnit]:
    """``units`` with the targets of each (case, repeat) group rotated: balanced and seeded.

    Servers cache prompt prefixes (llama.cpp, vLLM, OpenAI): the second of two identical
    prompts sent close together is served from a warm cache. In config order the
    baseline would always be the cold call and the candidate the warm one, an order
    effect that reads as a regression once the roles are swapped (llama.cpp, two
    identical targets: "latency_mean_ms rose 14.0%"). Each group's targets are rotated
    by the rank of the group in a seeded shuffle, so every target goes first in an equal
    share of the groups (within one), whatever the order of the cases. Groups keep their
    place; only the order inside a group changes.
    """
    groups: dict[tuple[str, int], list[CallUnit]] = {}
    for unit in units:
        groups.setdefault((unit.case.key, unit.repeat_index), []).append(unit)
    ranks = list(range(len(groups)))
    random.Random(f"fair-order:{seed}").shuffle(ranks)
    ordered: list[CallUnit] = []
    for rank, group in zip(ranks, groups.values(), strict=True):
        shift = rank % len(group)
        ordered.extend(group[shift:] + group[:shift])
    return ordered
