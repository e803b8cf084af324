"""Confidence intervals for the difference between a baseline and a candidate.

Two families, chosen by the gate per metric:

- :mod:`~pytest_llmguard.stats.bootstrap`: ``bootstrap_diff`` / ``bootstrap_diffs``,
  a percentile bootstrap over cases for means, sums and percentiles (with
  :mod:`~pytest_llmguard.stats.case_values`, the per-resample statistic, and
  :mod:`~pytest_llmguard.stats.draws`, the seeded draws and ``shared_draws``).
- :mod:`~pytest_llmguard.stats.intervals`: ``wilson_interval`` / ``newcombe_diff`` /
  ``newcombe_paired_diff``, score intervals for rates, which behave at 0 % and 100 %
  where the bootstrap collapses to a point; :mod:`~pytest_llmguard.stats.clustered`:
  ``newcombe_clustered``, the same for rates with several calls per case.
- :mod:`~pytest_llmguard.stats.spending`: ``look_levels``, the level of each look of a
  sequential gate (alpha spending), so looking again never raises the false-failure rate.

Every method returns an :class:`Interval`, and the same data always give the same
interval: a gate must never flake.
"""

from __future__ import annotations

from .bootstrap import bootstrap_diff, bootstrap_diffs, parse_stat
from .clustered import effective_counts, newcombe_clustered
from .draws import shared_draws
from .intervals import (
    Interval,
    newcombe_diff,
    newcombe_paired_diff,
    two_sided_z,
    wilson_interval,
)
from .spending import look_levels, pocock_spent

__all__ = [
    "Interval",
    "bootstrap_diff",
    "bootstrap_diffs",
    "effective_counts",
    "look_levels",
    "newcombe_clustered",
    "newcombe_diff",
    "newcombe_paired_diff",
    "parse_stat",
    "pocock_spent",
    "shared_draws",
    "two_sided_z",
    "wilson_interval",
]
