"""Which cases a budget looks at: its scope (all, one set, one tag) and the cases with a
value for its metric's sample, found once per summary and scope.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from pytest_llmguard.budgets import Budget, scopes_of
from pytest_llmguard.records import Case
from pytest_llmguard.summary import RunSummary


def cases_judged_by(
    budgets: Sequence[Budget],
    cases: Sequence[Case],
    targets: Sequence[str],
    selected: Collection[tuple[str, str]],
) -> list[tuple[Case, str]]:
    """The (case, target) pairs that ``budgets`` judge, except the ``selected`` (case key,
    target) pairs: what selected budget items bring when their cases' items were not
    selected (``--lf`` after a budget failure), so a budget is never judged on nothing."""
    brought: list[tuple[Case, str]] = []
    for case in cases:
        scopes = scopes_of(case)
        if any(b.scope == "all" or b.scope in scopes for b in budgets):
            brought.extend((case, t) for t in targets if (case.key, t) not in selected)
    return brought


class BudgetScope:
    """Which case keys a budget looks at: its scope, intersected with ``case_filter``."""

    def __init__(
        self,
        budget: Budget,
        case_filter: Callable[[str], bool] | None,
        lookups: Sequence[Mapping[str, Collection[str]]],
    ) -> None:
        self.budget = budget
        self.case_filter = case_filter
        self.lookups = lookups

    def _scopes(self, key: str) -> Collection[str]:
        for lookup in self.lookups:
            if key in lookup:
                return lookup[key]
        return ()

    def keys(self, keys: Collection[str]) -> list[str]:
        scope = self.budget.scope
        if scope == "all" and self.case_filter is None:
            return sorted(keys)
        return sorted(
            k
            for k in keys
            if (self.case_filter is None or self.case_filter(k))
            and (scope == "all" or scope in self._scopes(k))
        )


def with_samples(summary: RunSummary, sample: str, keys: Collection[str]) -> list[str]:
    return list(filter(summary.column(sample).position.__contains__, keys))


class CaseKeys:
    """One summary's case keys per scope, and per scope and sample, each found once."""

    def __init__(
        self,
        summary: RunSummary,
        case_filter: Callable[[str], bool] | None,
        lookups: Sequence[Mapping[str, Collection[str]]],
    ) -> None:
        self.summary = summary
        self.case_filter = case_filter
        self.lookups = lookups
        self._scoped: dict[str, list[str]] = {}
        self._sampled: dict[tuple[str, str], list[str]] = {}

    def scoped(self, budget: Budget) -> list[str]:
        found = self._scoped.get(budget.scope)
        if found is None:
            scope = BudgetScope(budget, self.case_filter, self.lookups)
            found = self._scoped[budget.scope] = scope.keys(self.summary.case_keys)
        return found

    def sampled(self, budget: Budget) -> list[str]:
        key = (budget.scope, budget.definition.sample)
        found = self._sampled.get(key)
        if found is None:
            found = self._sampled[key] = with_samples(
                self.summary, budget.definition.sample, self.scoped(budget)
            )
        return found


def cached_share(summaries: Sequence[tuple[RunSummary, Collection[str]]]) -> float | None:
    shares = [s.metric("cached_share", keys) for s, keys in summaries if keys]
    known = [x for x in shares if x is not None]
    return max(known) if known else None
