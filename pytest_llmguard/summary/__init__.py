"""What a run measured, per target: samples, metrics and the RunSummary.

- :mod:`~pytest_llmguard.summary.samples`: ``SAMPLES``, one number read from each
  scored observation (latency, cost, a detector's flag, ...).
- :mod:`~pytest_llmguard.summary.metric_defs`: ``METRICS``, the budget keys and the
  statistic each computes over a sample.
- :mod:`~pytest_llmguard.summary.columns`: ``SampleColumn``, one sample's per-case
  values stored flat for numpy.
- :mod:`~pytest_llmguard.summary.run_summary`: ``RunSummary`` and ``summarize``.
"""

from __future__ import annotations

from .columns import CaseSamples, SampleColumn
from .metric_defs import METRICS, MetricDef, MetricKind, Unit
from .run_summary import RunSummary, summarize
from .samples import FLAG_THRESHOLD, REPETITION_THRESHOLD, SAMPLES, SampleDef

__all__ = [
    "FLAG_THRESHOLD",
    "METRICS",
    "REPETITION_THRESHOLD",
    "SAMPLES",
    "CaseSamples",
    "MetricDef",
    "MetricKind",
    "RunSummary",
    "SampleColumn",
    "SampleDef",
    "Unit",
    "summarize",
]
