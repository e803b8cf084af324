"""The metrics: the budget keys users write, and how each is computed from a sample.

Every metric is a statistic (a percentile, a mean, a rate or a sum) over one sample of
:data:`~pytest_llmguard.summary.samples.SAMPLES`; the gate picks its interval method
from the same ``kind``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

MetricKind = Literal["percentile", "mean", "rate", "sum"]
Unit = Literal["ms", "tokens", "usd", "ratio"]


@dataclass(frozen=True, slots=True)
class MetricDef:
    """One metric: the budget key users write, and how it is computed from samples."""

    name: str
    kind: MetricKind
    sample: str  # key of SAMPLES
    unit: Unit
    higher_is_worse: bool
    description: str
    q: float | None = None  # percentile, for kind == "percentile"

    @property
    def stat(self) -> str:
        """The statistic name ``stats.bootstrap_diff`` understands."""
        if self.kind == "percentile":
            return f"p{self.q:g}"
        return "sum" if self.kind == "sum" else "mean"

    def compute(self, values: np.ndarray[Any, Any]) -> float | None:
        """The metric over a flat array of sample values (None when there are none).

        A sum of nothing is None too: when no call succeeded, nothing was priced, and an
        unknown total must not read as $0.
        """
        if values.size == 0:
            return None
        if self.kind == "percentile":
            assert self.q is not None
            return float(np.percentile(values, self.q))
        if self.kind == "sum":
            return float(values.sum())
        return float(values.mean())


def _m(
    name: str,
    kind: MetricKind,
    sample: str,
    unit: Unit,
    worse: bool,
    description: str,
    q: float | None = None,
) -> MetricDef:
    return MetricDef(name, kind, sample, unit, worse, description, q)


METRICS: Mapping[str, MetricDef] = {
    m.name: m
    for m in (
        _m("latency_p50_ms", "percentile", "latency_ms", "ms", True, "median latency", 50),
        _m("latency_p95_ms", "percentile", "latency_ms", "ms", True, "95th pct latency", 95),
        _m("latency_p99_ms", "percentile", "latency_ms", "ms", True, "99th pct latency", 99),
        _m("latency_mean_ms", "mean", "latency_ms", "ms", True, "mean latency"),
        _m("ttft_p95_ms", "percentile", "ttft_ms", "ms", True, "95th pct time to first token", 95),
        _m("input_tokens_mean", "mean", "input_tokens", "tokens", True, "mean input tokens"),
        _m("output_tokens_mean", "mean", "output_tokens", "tokens", True, "mean output tokens"),
        _m("cost_per_response_usd", "mean", "cost_usd", "usd", True, "mean cost per response"),
        _m("cost_total_usd", "sum", "cost_usd", "usd", True, "total cost of the run"),
        _m("error_rate", "rate", "error", "ratio", True, "share of calls that failed"),
        _m("similarity_mean", "mean", "similarity", "ratio", False, "mean similarity"),
        _m("similarity_p10", "percentile", "similarity", "ratio", False, "10th pct sim.", 10),
        _m("check_pass_rate", "rate", "passed", "ratio", False, "share passing all checks"),
        _m("hallucination_rate", "rate", "hallucination", "ratio", True, "share hallucinated"),
        _m("pii_leak_rate", "rate", "pii", "ratio", True, "share leaking PII"),
        _m("refusal_rate", "rate", "refusal", "ratio", True, "share refused"),
        _m("repetition_rate", "rate", "repetition", "ratio", True, "share repetitive"),
        _m("echo_rate", "rate", "echo", "ratio", True, "share restating the prompt"),
        _m("feedback_negative_rate", "rate", "feedback_negative", "ratio", True, "neg. feedback"),
        _m("cached_share", "rate", "cached", "ratio", False, "share served from the cache"),
    )
}
