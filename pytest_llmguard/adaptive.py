"""``gate.adaptive``: before deciding, re-run the cases of borderline budgets.

A budget is borderline when more repeats could change its verdict (``gate.borderline``).
Each round adds one repeat, on both compared targets, of the cases in that budget's
scope. Under xdist every worker takes the same decision from the same seeded judgement
and re-runs only its own share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from pytest_llmguard.budgets import scopes_of
from pytest_llmguard.gate import borderline
from pytest_llmguard.outcome import Comparison
from pytest_llmguard.planning import CallUnit, fair_order


def shaky(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons more repeats could change."""
    return [c for c in comparisons if borderline(c)]


def extra_units(
    shaky: Sequence[Comparison],
    planned: Sequence[CallUnit],
    *,
    running: Collection[str],
    owners: Mapping[str, int],
    worker_index: int,
    base_repeat: int,
    round_index: int,
) -> list[CallUnit]:
    """One more repeat, on both compared targets, of this worker's in-scope cases."""
    wanted: set[tuple[str, str]] = set()
    for c in shaky:
        sides = {c.candidate, c.baseline} & set(running)  # a saved run cannot re-run
        for unit in planned:
            in_scope = c.budget.scope == "all" or c.budget.scope in scopes_of(unit.case)
            if unit.target in sides and in_scope:
                wanted.add((unit.case.key, unit.target))
    extra: list[CallUnit] = []
    seen: set[tuple[str, str]] = set()
    for unit in planned:
        ident = (unit.case.key, unit.target)
        mine = owners.get(unit.case.key) == worker_index
        if ident in wanted and ident not in seen and mine:
            seen.add(ident)
            first_extra = max(unit.case.repeat, base_repeat)
            extra.append(CallUnit(unit.case, unit.target, first_extra + round_index - 1))
    return fair_order(extra, seed=round_index)  # a new draw of who goes first each round
