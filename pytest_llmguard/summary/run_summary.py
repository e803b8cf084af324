"""The per-target RunSummary built from scored observations.

A RunSummary keeps the raw per-case samples next to the aggregate metrics, because
percentiles do not merge and a comparison pairs baseline and candidate case by case:

    samples[sample_name][case_key] = (value of repeat 0, value of repeat 1, ...)

Merging xdist workers means concatenating their scored observations before
``summarize``; the result does not depend on their order. A saved run is
``RunSummary.to_dict()`` per target and loads back with ``RunSummary.from_dict``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_llmguard.records import ERROR_CLASSES, ScoredObservation

from .columns import CaseSamples, IntArray, SampleColumn, case_order, group_by_case
from .metric_defs import METRICS
from .samples import SAMPLES


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

    def column(self, sample: str) -> SampleColumn:
        """The sample's values as a flat column (built once from plain mappings)."""
        per_case = self.samples.get(sample)
        if isinstance(per_case, SampleColumn):
            return per_case
        cache: dict[str, SampleColumn] = self.__dict__.setdefault("_columns", {})
        found = cache.get(sample)
        if found is None:
            found = cache[sample] = SampleColumn.from_mapping(per_case or {})
        return found

    @property
    def case_keys(self) -> tuple[str, ...]:
        """Every case with at least one observation, sorted."""
        return self.column("error").case_keys

    def sample_values(
        self, sample: str, case_keys: Collection[str] | None = None
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], tuple[str, ...]]:
        """Flat values, their case index, and the case keys indexed, in sorted key order.

        The arrays may be shared with other callers: they are read-only.
        """
        col = self.column(sample)
        if case_keys is None:
            return col.flat, col.case_index, col.case_keys
        return col.select(case_keys)

    def is_unknown(self, metric: str, case_keys: Collection[str] | None = None) -> bool:
        """Whether the metric cannot be computed on these cases for lack of a required value."""
        missing = self.unknown.get(METRICS[metric].sample, ())
        if case_keys is None or not missing:
            return bool(missing)
        wanted = case_keys if isinstance(case_keys, (set, frozenset, dict)) else set(case_keys)
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
    observations = [s.observation for s in scored]
    keys = [o.case_key for o in observations]
    names = sorted(set(keys))
    code = {k: i for i, k in enumerate(names)}
    codes = np.fromiter(map(code.__getitem__, keys), dtype=np.int64, count=len(keys))
    repeats = np.fromiter(
        (o.repeat_index for o in observations), dtype=np.int64, count=len(observations)
    )
    errors: dict[str, int] = dict.fromkeys(ERROR_CLASSES, 0)
    for o in observations:
        if o.error is not None:
            errors[o.error.cls] = errors.get(o.error.cls, 0) + 1
    successful = [i for i, o in enumerate(observations) if o.ok]
    subsets: dict[bool, tuple[Sequence[ScoredObservation], IntArray, IntArray | None]] = {}
    for only_ok, rows in (
        (True, np.array(successful, dtype=np.int64)),
        (False, np.arange(len(scored), dtype=np.int64)),
    ):
        subset = [scored[i] for i in successful] if only_ok else scored
        # One (case, repeat) order serves every sample that has a value everywhere.
        subsets[only_ok] = (subset, rows, case_order(codes[rows], repeats[rows], None))
    samples: dict[str, SampleColumn] = {}
    unknown: dict[str, tuple[str, ...]] = {}
    for name in sorted(SAMPLES):
        sdef = SAMPLES[name]
        subset, rows, order = subsets[sdef.successful_only]
        values = sdef.extract_all(subset)
        if None in values:
            kept = [j for j, v in enumerate(values) if v is not None]
            if sdef.required:
                missing = {keys[rows[j]] for j, v in enumerate(values) if v is None}
                unknown[name] = tuple(sorted(missing))
            values = [values[j] for j in kept]
            at = rows[np.array(kept, dtype=np.int64)]
            order = None
        else:
            at = rows
        if values:
            flat = np.array(values, dtype=np.float64)
            if order is None:
                order = case_order(codes[at], repeats[at], flat)
            assert order is not None
            samples[name] = group_by_case(codes[at], flat, names, order)
    metrics: dict[str, float | None] = {}
    for metric_name, mdef in METRICS.items():
        if unknown.get(mdef.sample):
            metrics[metric_name] = None
        else:
            column = samples.get(mdef.sample)
            metrics[metric_name] = mdef.compute(
                column.flat if column is not None else np.empty(0, dtype=np.float64)
            )
    case_keys = samples["error"].case_keys if "error" in samples else ()
    return RunSummary(
        target=target,
        provider=provider,
        model=model,
        n=len(scored),
        n_cases=len(names),
        metrics=metrics,
        errors_by_class=errors,
        samples=samples,
        unknown=unknown,
        scopes={
            key: tuple(sorted(case_scopes[key]))
            for key in case_keys
            if case_scopes is not None and key in case_scopes
        },
    )
