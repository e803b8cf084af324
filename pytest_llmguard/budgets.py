"""Budgets: the bounds a team sets on each metric, parsed from the ``budgets`` config.

    budgets:
      latency_p95_ms: {max: 4000, max_increase: "15%"}
      error_rate:     {max: 0.02, max_increase: 0.01}
      by_set: {support: {similarity_mean: {min: 0.85}}}
      by_tag: {billing: {check_pass_rate: {min: 0.99}}}

``max``/``min`` bound the candidate's value. ``max_increase``/``max_decrease`` bound
the change from the baseline: ``"15%"`` is relative to the baseline value, a bare number
is in the metric's own units. Each bounds the direction it names, whatever the metric:
``max_decrease`` on ``output_tokens_mean`` catches truncated answers, ``max_increase``
on it catches cost creep. On rates (unit "ratio") ``max``/``min`` may also be written
as a percentage (``max: "2%"`` is 0.02).

These are the records; ``config.budgets`` parses the config section into them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .records import Case

if TYPE_CHECKING:
    from .summary import MetricDef

BOUND_KEYS = ("max", "min", "max_increase", "max_decrease")
SCOPE_KEYS = ("by_set", "by_tag")
PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class Delta:
    """A permitted change: ``relative`` (a fraction of the baseline) or in metric units."""

    value: float
    relative: bool

    def limit(self, baseline_value: float) -> float:
        """The permitted change in metric units, given the baseline's value."""
        return self.value * abs(baseline_value) if self.relative else self.value

    def to_json(self) -> str | float:
        """As a user would write it: ``"15%"`` or ``0.01``."""
        return f"{self.value * 100:g}%" if self.relative else self.value

    @classmethod
    def from_json(cls, value: str | float) -> Delta:
        """Inverse of ``to_json``; ValueError for anything else."""
        if isinstance(value, str):
            percent = PERCENT.match(value)
            if percent is None:
                raise ValueError(f"not a percentage: {value!r}")
            return cls(float(percent.group(1)) / 100.0, relative=True)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"not a number: {value!r}")
        return cls(float(value), relative=False)


@dataclass(frozen=True, slots=True)
class Budget:
    """The bounds on one metric within one scope (``all``, ``set:NAME``, ``tag:NAME``)."""

    metric: str
    max: float | None = None
    min: float | None = None
    max_increase: Delta | None = None
    max_decrease: Delta | None = None
    scope: str = "all"

    @property
    def definition(self) -> MetricDef:
        from .summary import METRICS

        return METRICS[self.metric]

    @property
    def absolute(self) -> bool:
        return self.max is not None or self.min is not None

    @property
    def relative(self) -> bool:
        return self.max_increase is not None or self.max_decrease is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "scope": self.scope,
            "max": self.max,
            "min": self.min,
            "max_increase": None if self.max_increase is None else self.max_increase.to_json(),
            "max_decrease": None if self.max_decrease is None else self.max_decrease.to_json(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Budget:
        """Inverse of ``to_dict`` (a saved report read back); ValueError if malformed."""
        from .summary import METRICS

        metric = d.get("metric")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")

        def bound(key: str) -> float | None:
            value = d.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{key} is not a number: {value!r}")
            return float(value)

        def delta(key: str) -> Delta | None:
            value = d.get(key)
            return None if value is None else Delta.from_json(value)

        return cls(
            metric=str(metric),
            max=bound("max"),
            min=bound("min"),
            max_increase=delta("max_increase"),
            max_decrease=delta("max_decrease"),
            scope=str(d.get("scope", "all")),
        )


def scopes_of(case: Case) -> frozenset[str]:
    """The budget scopes a case belongs to: ``set:<set name>`` and ``tag:<tag>`` each."""
    return frozenset({f"set:{case.set_name}", *(f"tag:{t}" for t in case.tags)})
