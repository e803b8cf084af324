"""Which cases a budget looks at: its scope (all, one set, one tag) and the cases with a
value for its metric's sample, found once per summary and scope.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from pytest_llmguard.budgets import Budget
from pytest_llmguard.summary import RunSummary


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
