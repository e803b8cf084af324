"""Metric definitions and the per-target RunSummary built from scored observations.

A RunSummary keeps the raw per-case samples next to the aggregate metrics, because
percentiles do not merge and a comparison pairs baseline and candidate case by case:

    samples[sample_name][case_key] = (value of repeat 0, value of repeat 1, ...)

Merging xdist workers means concatenating their scored observations before
``summarize``; the result does not depend on their order. A saved run is
``RunSummary.to_dict()`` per target and loads back with ``RunSummary.from_dict``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
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


Extract = Callable[[ScoredObservation], float | None]
ExtractMany = Callable[[Sequence[ScoredObservation]], list[float | None]]


@dataclass(frozen=True, slots=True)
class SampleDef:
    """One number read from each scored observation (None: not applicable, skipped).

    ``required`` samples make every metric built on them None when any successful
    observation lacks the value (an unknown price must never read as $0). ``many``,
    when given, reads a whole run at once and must equal ``extract`` applied to each
    observation (it only saves a Python call per observation).
    """

    name: str
    extract: Extract
    successful_only: bool
    required: bool = False
    many: ExtractMany | None = None

    def extract_all(self, scored: Sequence[ScoredObservation]) -> list[float | None]:
        """``extract`` of every observation, in order."""
        return self.many(scored) if self.many is not None else list(map(self.extract, scored))


def _flag(name: str, threshold: float) -> SampleDef:
    """1.0 when the score is at or above the threshold, else 0.0."""

    def extract(s: ScoredObservation) -> float | None:
        value = s.scores.get(name)
        return None if value is None else float(value >= threshold)

    def many(scored: Sequence[ScoredObservation]) -> list[float | None]:
        values = [s.scores.get(name) for s in scored]
        return [None if v is None else float(v >= threshold) for v in values]

    return SampleDef(name, extract, successful_only=False, many=many)


def _repetitive(s: ScoredObservation) -> float | None:
    """The scorer's own flag (at the configured quality.repetition.threshold) when present."""
    flag = s.scores.get("repetitive")
    if flag is not None:
        return float(flag)
    value = s.scores.get("repetition")
    return None if value is None else float(value >= REPETITION_THRESHOLD)


def _number(attr: str, *, required: bool = False) -> SampleDef:
    """An observation attribute, from successful calls only."""
    get = attrgetter(f"observation.{attr}")

    def extract(s: ScoredObservation) -> float | None:
        value = get(s)
        return None if value is None else float(value)

    def many(scored: Sequence[ScoredObservation]) -> list[float | None]:
        return [None if v is None else float(v) for v in map(get, scored)]

    return SampleDef(attr, extract, successful_only=True, required=required, many=many)


def _score(name: str) -> SampleDef:
    """A quality score, from successful calls only."""

    def extract(s: ScoredObservation) -> float | None:
        value = s.scores.get(name)
        return None if value is None else float(value)

    def many(scored: Sequence[ScoredObservation]) -> list[float | None]:
        values = [s.scores.get(name) for s in scored]
        return [None if v is None else float(v) for v in values]

    return SampleDef(name, extract, successful_only=True, many=many)


def _always(name: str, extract: Callable[[ScoredObservation], bool]) -> SampleDef:
    """A yes/no known for every observation."""
    return SampleDef(
        name,
        lambda s: float(extract(s)),
        successful_only=False,
        many=lambda scored: [float(x) for x in map(extract, scored)],
    )


SAMPLES: Mapping[str, SampleDef] = {
    s.name: s
    for s in (
        _number("latency_ms"),
        _number("ttft_ms"),
        _number("input_tokens"),
        _number("output_tokens"),
        _number("cost_usd", required=True),
        _score("similarity"),
        _always("error", lambda s: not s.observation.ok),
        _always("passed", attrgetter("passed")),
        _flag("hallucination", FLAG_THRESHOLD),
        _flag("pii", FLAG_THRESHOLD),
        _flag("refusal", FLAG_THRESHOLD),
        SampleDef("repetition", _repetitive, successful_only=False),
        _flag("feedback_negative", FLAG_THRESHOLD),
        _always("cached", attrgetter("observation.cached")),
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
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def _frozen(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # Columns are shared by every caller of sample_values: nobody may write into them.
    array.flags.writeable = False
    return array


class SampleColumn(Mapping[str, tuple[float, ...]]):
    """One sample's values per case, stored flat for numpy: a read-only ``CaseSamples``.

    ``case_keys`` are sorted; ``flat`` holds each key's values in turn, in repeat order;
    ``flat[starts[i]:starts[i + 1]]`` are key ``i``'s. As a mapping it reads exactly like the
    ``{case_key: (value, ...)}`` dict it replaces, so a RunSummary built by ``summarize``
    compares equal to the same summary loaded from JSON.
    """

    __slots__ = ("_floats", "_index", "_position", "case_keys", "flat", "single", "starts")

    def __init__(self, case_keys: tuple[str, ...], flat: FloatArray, starts: IntArray) -> None:
        self.case_keys = case_keys
        self.flat: FloatArray = _frozen(flat)
        self.starts: IntArray = _frozen(starts)
        self.single = flat.size == len(case_keys)
        self._position: dict[str, int] | None = None
        self._floats: list[float] | None = None
        self._index: IntArray | None = None

    @classmethod
    def from_mapping(cls, per_case: Mapping[str, Sequence[float]]) -> SampleColumn:
        """A column holding the same values as a ``{case_key: values}`` mapping."""
        if isinstance(per_case, SampleColumn):
            return per_case
        keys = tuple(sorted(per_case))
        lengths = np.fromiter((len(per_case[k]) for k in keys), dtype=np.int64, count=len(keys))
        starts = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        values = np.fromiter(
            (float(v) for k in keys for v in per_case[k]), dtype=np.float64, count=int(starts[-1])
        )
        return cls(keys, values, starts)

    @property
    def position(self) -> dict[str, int]:
        """Each key's position in ``keys``."""
        if self._position is None:
            self._position = {k: i for i, k in enumerate(self.case_keys)}
        return self._position

    @property
    def case_index(self) -> IntArray:
        """For each value, the position of its key."""
        if self._index is None:
            lengths = np.diff(self.starts)
            self._index = _frozen(
                np.repeat(np.arange(len(self.case_keys), dtype=np.int64), lengths)
            )
        return self._index

    def __getitem__(self, key: str) -> tuple[float, ...]:
        i = self.position[key]
        if self._floats is None:
            self._floats = self.flat.tolist()
        return tuple(self._floats[self.starts[i] : self.starts[i + 1]])

    def __contains__(self, key: object) -> bool:
        return key in self.position

    def __iter__(self) -> Iterator[str]:
        return iter(self.case_keys)

    def __len__(self) -> int:
        return len(self.case_keys)

    def __repr__(self) -> str:
        return f"SampleColumn({dict(self.items())!r})"

    def select(self, case_keys: Collection[str]) -> tuple[FloatArray, IntArray, tuple[str, ...]]:
        """Values, their case index and the keys indexed, for the keys present, sorted."""
        if len(case_keys) == len(self.case_keys) and (
            case_keys is self.case_keys
            or (isinstance(case_keys, (list, tuple)) and tuple(case_keys) == self.case_keys)
        ):
            return self.flat, self.case_index, self.case_keys
        position = self.position
        common = position.keys() & case_keys
        if len(common) == len(self.case_keys):
            return self.flat, self.case_index, self.case_keys
        found = sorted(map(position.__getitem__, common))
        keys = tuple(self.case_keys[i] for i in found)
        at = np.array(found, dtype=np.int64)
        if self.single:
            return self.flat[at], np.arange(at.size, dtype=np.int64), keys
        first, lengths = self.starts[at], self.starts[at + 1] - self.starts[at]
        index = np.repeat(np.arange(at.size, dtype=np.int64), lengths)
        # Position of each selected value: its key's first value plus its place in the run.
        run_start = np.cumsum(lengths) - lengths
        taken = first[index] + (np.arange(index.size, dtype=np.int64) - run_start[index])
        return self.flat[taken], index, keys


def _group(
    codes: IntArray, values: FloatArray, names: Sequence[str], order: IntArray
) -> SampleColumn:
    """Values grouped by case (codes index the sorted ``names``), given their sort order."""
    sorted_codes = codes[order]
    first = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate(([0], first, [sorted_codes.size])).astype(np.int64)
    keys = tuple(map(names.__getitem__, sorted_codes[starts[:-1]].tolist()))
    return SampleColumn(keys, values[order], starts)


def _sort_order(codes: IntArray, repeats: IntArray, values: FloatArray | None) -> IntArray | None:
    """The order by case, then repeat, then value; stable, so ties keep arrival order.

    That puts every case's values in (repeat, value) order whatever order observations
    arrived in from workers, so every float sum is reproducible. Without ``values``: the
    order by (case, repeat) when no two observations share both, else None (the values
    must break the tie).
    """
    if values is not None:
        return np.lexsort((values, repeats, codes))
    order = np.lexsort((repeats, codes))
    same = (np.diff(codes[order]) == 0) & (np.diff(repeats[order]) == 0)
    return None if same.any() else order


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
        subsets[only_ok] = (subset, rows, _sort_order(codes[rows], repeats[rows], None))
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
                order = _sort_order(codes[at], repeats[at], flat)
            assert order is not None
            samples[name] = _group(codes[at], flat, names, order)
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
