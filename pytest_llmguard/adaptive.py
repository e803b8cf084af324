"""The sequential gate (``gate.adaptive``, on by default): look, and repeat only if undecided.

A gate is judged after the first calls (look 0). A budget whose verdict more data could
still change (``borderline``) has its cases re-run, one more call per case on both
compared targets, and the gate looks again; at most ``gate.adaptive_rounds`` times.
Most runs of an unchanged model are decided at look 0, so they cost one call per case;
a real regression that one look cannot yet prove is followed until it can.

Honesty across looks: each look's intervals are at the level alpha spending gives it
(``stats.spending.look_levels``), so looking again never raises the false-failure rate
above what one look at ``gate.confidence`` allows. Stopping is non-binding: whether a
budget is still open only decides whether to spend calls, never a verdict.

A budget stays open while its change could plausibly still be beyond its limit: it
is not yet a confident ``fail``, and its point estimate plus ``FUTILITY_SE`` standard
errors (read off the look's interval) reaches past the limit. ``warn`` is always open.
Under xdist every worker takes the same decision from the same seeded judgement and
re-runs only its own share.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from pytest_llmguard.budgets import Budget, scopes_of
from pytest_llmguard.config.records import GateConfig
from pytest_llmguard.gate import relative_limits
from pytest_llmguard.outcome import Comparison
from pytest_llmguard.planning import CallUnit, fair_order
from pytest_llmguard.stats import look_levels, two_sided_z

# Half a standard error: a regression twice the budget is almost never let go at look 0,
# while an unchanged model's budgets close at once in most runs (README: gate quality).
FUTILITY_SE = 0.5


@dataclass(frozen=True, slots=True)
class Looks:
    """The sequential plan of a run: the interval level of each look it may make."""

    levels: tuple[float, ...]

    @property
    def rounds(self) -> int:
        """The most rounds of extra calls the gate may make (looks after the first)."""
        return len(self.levels) - 1

    def gate_at(self, gate: GateConfig, look: int) -> GateConfig:
        """``gate`` with the confidence of look ``look`` (the last look's past the end)."""
        return replace(gate, confidence=self.levels[min(look, self.rounds)])

    def note(self, look: int) -> str | None:
        """Said in every report when the gate is sequential."""
        if self.rounds == 0:
            return None
        level = self.levels[min(look, self.rounds)]
        return (
            f"gate: look {look + 1} of at most {self.rounds + 1}; intervals at {level:.2%} "
            "so that every look together fails a within-budget model no more often than "
            "one look at gate.confidence (alpha spending)"
        )


def plan_looks(gate: GateConfig, *, base_repeat: int, may_repeat: bool) -> Looks:
    """The looks a run may make: one at ``gate.confidence`` unless repeats are possible."""
    if not may_repeat or not gate.adaptive or gate.strict or gate.adaptive_rounds < 1:
        return Looks((gate.confidence,))
    first = max(1, base_repeat)
    information = [float(first + k) for k in range(gate.adaptive_rounds + 1)]
    return Looks(look_levels(gate.confidence, information))


def may_repeat(budgets: Sequence[Budget], sides: Collection[str], running: Collection[str]) -> bool:
    """Whether another look could get more data: a relative budget, a compared side running."""
    return any(b.relative for b in budgets) and bool(set(sides) & set(running))


def borderline(comparison: Comparison) -> bool:
    """Whether another look could still change this budget's verdict (see the module doc)."""
    c = comparison
    if c.verdict == "warn":
        return True
    if c.verdict != "pass" or c.interval is None or c.confidence is None:
        return False
    if c.baseline_value is None or c.delta is None:
        return False
    low, high = c.interval
    se = (high - low) / (2.0 * two_sided_z(c.confidence))
    inc, dec = relative_limits(c.budget, c.baseline_value)
    if inc is not None and c.delta + FUTILITY_SE * se > inc:
        return True
    return dec is not None and -c.delta + FUTILITY_SE * se > dec


def shaky(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons another look could change."""
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
