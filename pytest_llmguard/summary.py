"""Metric definitions and the per-target RunSummary built from scored observations.

A RunSummary keeps the raw per-case samples next to the aggregate metrics, because
percentiles do not merge and a comparison pairs baseline and candidate case by case:

    samples[sample_name][case_key] = (value of repeat 0, value of repeat 1, ...)

Merging xdist workers means concatenating their scored observations before
``summarize``; the result does not depend on their order. A saved run is
``RunSummary.to_dict()`` per target and loads back with ``RunSummary.from_dict``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .records import ERROR_CLASSES, ScoredObservation

MetricKind = Literal["percentile", "mean", "rate", "sum"]
Unit = Literal["ms", "tokens", "usd", "ratio"]

# A detector score at or above this counts the response as flagged (hallucinated,
# leaking PII, refusing). Detectors emit 0/1 today; the cut keeps graded scores usable.
FLAG_THRESHOLD = 0.5
# Repetition scores are the share of repeated n-grams; 0.3 already reads as looping.
REPETITION_THRESHOLD = 0.3


def _flag(score: str, threshold: float) -> Callable[[ScoredObservation], float | None]:
    def extract(s: ScoredObservation) -> float | None:
        value = s.scores.get(score)
        return None if value is None else float(value >= threshold)

    return extract


def _repetitive(s: ScoredObservation) -> float | None:
    """The scorer's own flag (at the configured quality.repetition.threshold) when present."""
    flag = s.scores.get("repetitive")
    if flag is not None:
        return float(flag)
    value = s.scores.get("repetition")
    return None if value is None else float(value >= REPETITION_THRESHOLD)


def _number(attr: str) -> Callable[[ScoredObservation], float | None]:
    def extract(s: ScoredObservation) -> float | None:
        value = getattr(s.observation, attr)
        return None if value is None else float(value)

    return extract


def _score(name: str) -> Callable[[ScoredObservation], float | None]:
    def extract(s: ScoredObservation) -> float | None:
        value = s.scores.get(name)
        return None if value is None else float(value)

    return extract


@dataclass(frozen=True, slots=True)
class SampleDef:
    """One number read from each scored observation (None: not applicable, skipped).

    ``required`` samples make every metric built on them None when any successful
    observation lacks the value (an unknown price must never read as $0).
    """

    name: str
    extract: Callable[[ScoredObservation], float | None]
    successful_only: bool
    required: bool = False


SAMPLES: Mapping[str, SampleDef] = {
    s.name: s
    for s in (
        SampleDef("latency_ms", _number("latency_ms"), successful_only=True),
        SampleDef("ttft_ms", _number("ttft_ms"), successful_only=True),
        SampleDef("input_tokens", _number("input_tokens"), successful_only=True),
        SampleDef("output_tokens", _number("output_tokens"), successful_only=True),
        SampleDef("cost_usd", _number("cost_usd"), successful_only=True, required=True),
        SampleDef("similarity", _score("similarity"), successful_only=True),
        SampleDef("error", lambda s: float(not s.observation.ok), successful_only=False),
        SampleDef("passed", lambda s: float(s.passed), successful_only=False),
        SampleDef("hallucination", _flag("hallucination", FLAG_THRESHOLD), False),
        SampleDef("pii", _flag("pii", FLAG_THRESHOLD), successful_only=False),
        SampleDef("refusal", _flag("refusal", FLAG_THRESHOLD), successful_only=False),
        SampleDef("repetition", _repetitive, False),
        SampleDef("feedback_negative", _flag("feedback_negative", FLAG_THRESHOLD), False),
        SampleDef("cached", lambda s: float(s.observation.cached), successful_only=False),
    )
}


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
        """The metric over a flat array of sample values (None when there are none)."""
        if values.size == 0:
            return 0.0 if self.kind == "sum" else None
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
        _m("feedback_negative_rate", "rate", "feedback_negative", "ratio", True, "neg. feedback"),
        _m("cached_share", "rate", "cached", "ratio", False, "share served from the cache"),
    )
}


CaseSamples = Mapping[str, tuple[float, ...]]


@dataclass(frozen=True)
class RunSummary:
    """Everything a comparison needs about one target's run, JSON round-trippable.

    ``samples[sample][case_key]`` holds that case's values ordered by repeat index;
    a case without any value for a sample is absent from it. ``unknown[sample]`` lists
    the cases with a successful call whose required value (cost) was unknown.
    ``scopes[case_key]`` are the case's budget scopes (``set:NAME``, ``tag:NAME``)
    when ``summarize`` was given them, so a saved baseline can be scoped on its own.
    """

    target: str
    provider: str
    model: str
    n: int
    n_cases: int
    metrics: Mapping[str, float | None]
    errors_by_class: Mapping[str, int]
    samples: Mapping[str, CaseSamples] = field(default_factory=dict)
    unknown: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def case_keys(self) -> tuple[str, ...]:
        """Every case with at least one observation, sorted."""
        return tuple(sorted(self.samples.get("error", {})))

    def sample_values(
        self, sample: str, case_keys: Collection[str] | None = None
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...]]:
        """Flat values, their case index, and the case keys indexed, in sorted key order."""
        per_case = self.samples.get(sample, {})
        keys = tuple(sorted(per_case if case_keys is None else set(case_keys) & set(per_case)))
        lengths = [len(per_case[k]) for k in keys]
        values = np.fromiter(
            (v for k in keys for v in per_case[k]), dtype=np.float64, count=sum(lengths)
        )
        index = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        return values, index, keys

    def is_unknown(self, metric: str, case_keys: Collection[str] | None = None) -> bool:
        """Whether the metric cannot be computed on these cases for lack of a required value."""
        missing = self.unknown.get(METRICS[metric].sample, ())
        if case_keys is None:
            return bool(missing)
        wanted = set(case_keys)
        return any(k in wanted for k in missing)

    def metric(self, name: str, case_keys: Collection[str] | None = None) -> float | None:
        """The metric over all cases, or over a subset of case keys."""
        if case_keys is None:
            return self.metrics.get(name)
        mdef = METRICS[name]
        if self.is_unknown(name, case_keys):
            return None
        values, _, _ = self.sample_values(mdef.sample, case_keys)
        return mdef.compute(values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "provider": self.provider,
            "model": self.model,
            "n": self.n,
            "n_cases": self.n_cases,
            "metrics": dict(self.metrics),
            "errors_by_class": dict(self.errors_by_class),
            "samples": {
                name: {k: list(v) for k, v in per_case.items()}
                for name, per_case in self.samples.items()
            },
            "unknown": {name: list(keys) for name, keys in self.unknown.items()},
            "scopes": {k: list(v) for k, v in self.scopes.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSummary:
        return cls(
            target=d["target"],
            provider=d.get("provider", ""),
            model=d.get("model", ""),
            n=int(d["n"]),
            n_cases=int(d["n_cases"]),
            metrics={k: (None if v is None else float(v)) for k, v in d["metrics"].items()},
            errors_by_class={k: int(v) for k, v in d.get("errors_by_class", {}).items()},
            samples={
                name: {k: tuple(float(x) for x in v) for k, v in per_case.items()}
                for name, per_case in d.get("samples", {}).items()
            },
            unknown={name: tuple(keys) for name, keys in d.get("unknown", {}).items()},
            scopes={k: tuple(v) for k, v in d.get("scopes", {}).items()},
        )


def summarize(
    target: str,
    provider: str,
    model: str,
    scored: Sequence[ScoredObservation],
    *,
    case_scopes: Mapping[str, Collection[str]] | None = None,
) -> RunSummary:
    """Summarise one target's scored observations (any order: the result is the same).

    Latency, ttft, tokens, cost and similarity come from successful calls only;
    rates (errors, checks, detectors, cache) are over every observation that has the
    score. When any successful call has an unknown cost, both cost metrics are None.
    """
    collected: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    unknown: dict[str, set[str]] = defaultdict(set)
    errors: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)
    for s in scored:
        obs = s.observation
        if obs.error is not None:
            errors[obs.error.cls] = errors.get(obs.error.cls, 0) + 1
        for sdef in SAMPLES.values():
            if sdef.successful_only and not obs.ok:
                continue
            value = sdef.extract(s)
            if value is None:
                if sdef.required:
                    unknown[sdef.name].add(obs.case_key)
                continue
            collected[sdef.name][obs.case_key].append((obs.repeat_index, value))
    # Sorting by (repeat, value) makes the stored order, hence every float sum,
    # independent of the order observations arrived in from workers.
    samples = {
        name: {key: tuple(v for _, v in sorted(pairs)) for key, pairs in sorted(per_case.items())}
        for name, per_case in sorted(collected.items())
    }
    unknown_keys = {name: tuple(sorted(keys)) for name, keys in sorted(unknown.items())}
    draft = RunSummary(
        target=target,
        provider=provider,
        model=model,
        n=len(scored),
        n_cases=len({s.observation.case_key for s in scored}),
        metrics={},
        errors_by_class=errors,
        samples=samples,
        unknown=unknown_keys,
        scopes={
            key: tuple(sorted(case_scopes[key]))
            for key in sorted(samples.get("error", {}))
            if case_scopes is not None and key in case_scopes
        },
    )
    metrics: dict[str, float | None] = {}
    for name, mdef in METRICS.items():
        if draft.is_unknown(name):
            metrics[name] = None
        else:
            metrics[name] = mdef.compute(draft.sample_values(mdef.sample)[0])
    return RunSummary(
        target=target,
        provider=provider,
        model=model,
        n=draft.n,
        n_cases=draft.n_cases,
        metrics=metrics,
        errors_by_class=errors,
        samples=samples,
        unknown=unknown_keys,
        scopes=draft.scopes,
    )
