"""Confidence intervals for the difference between a baseline and a candidate.

Two families, chosen by the gate per metric:

- :mod:`~pytest_llmguard.stats.bootstrap`: ``bootstrap_diff`` / ``bootstrap_diffs``,
  a percentile bootstrap over cases for means, sums and percentiles (with
  :mod:`~pytest_llmguard.stats.case_values`, the per-resample statistic, and
  :mod:`~pytest_llmguard.stats.draws`, the seeded draws and ``shared_draws``).
- :mod:`~pytest_llmguard.stats.intervals`: ``wilson_interval`` / ``newcombe_diff`` /
  ``newcombe_paired_diff``, score intervals for rates, which behave at 0 % and 100 %
  where the bootstrap collapses to a point.

Every method returns an :class:`Interval`, and the same data always give the same
interval: a gate must never flake.
"""

from __future__ import annotations

from .bootstrap import bootstrap_diff, bootstrap_diffs, parse_stat
from .draws import shared_draws
from .intervals import Interval, newcombe_diff, newcombe_paired_diff, wilson_interval

__all__ = [
    "Interval",
    "bootstrap_diff",
    "bootstrap_diffs",
    "newcombe_diff",
    "newcombe_paired_diff",
    "parse_stat",
    "shared_draws",
    "wilson_interval",
]
