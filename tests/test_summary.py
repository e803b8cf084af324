"""Tests for summary/: metric definitions, RunSummary values, merging and round trips."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmguard.records import CheckResult, ErrorRecord, Observation, ScoredObservation
from pytest_llmguard.summary import (
    METRICS,
    REPETITION_THRESHOLD,
    SAMPLES,
    RunSummary,
    SampleColumn,
    summarize,
)

DESIGN_METRICS = {
    "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "ttft_p95_ms",
    "input_tokens_mean", "output_tokens_mean", "cost_per_response_usd", "cost_total_usd",
    "error_rate", "similarity_mean", "similarity_p10", "check_pass_rate", "hallucination_rate",
    "pii_leak_rate", "refusal_rate", "repetition_rate", "feedback_negative_rate",
}  # fmt: skip


def scored(
    case: str,
    rep: int = 0,
    latency: float = 100.0,
    *,
    error: str | None = None,
    cost: float | None = 0.001,
    checks: tuple[bool, ...] = (),
    cached: bool = False,
    **scores: float | None,
) -> ScoredObservation:
    ok = error is None
    return ScoredObservation(
        observation=Observation(
            case_key=f"golden_sets/s.yaml::{case}",
            target="t",
            repeat_index=rep,
            model="m",
            output="out" if ok else None,
            latency_ms=latency if ok else None,
            ttft_ms=latency / 2 if ok else None,
            input_tokens=10 if ok else None,
            output_tokens=20 if ok else None,
            cost_usd=cost if ok else None,
            cached=cached,
            error=None if ok else ErrorRecord(error, "boom"),  # type: ignore[arg-type]
        ),
        checks=tuple(CheckResult("contains", p, "") for p in checks),
        scores=scores,
    )


def test_metric_registry_has_the_design_names() -> None:
    assert set(METRICS) == DESIGN_METRICS | {"cached_share", "echo_rate"}  # echo_rate: issue #16
    for name, mdef in METRICS.items():
        assert mdef.name == name
        assert (mdef.q is not None) == (mdef.kind == "percentile")
        assert name.endswith(("_ms", "_mean", "_usd", "_rate", "_p10", "_share"))
    assert METRICS["latency_p95_ms"].stat == "p95"
    assert METRICS["similarity_mean"].higher_is_worse is False


def test_summary_values() -> None:
    obs = [scored(f"c{i}", latency=float(100 * (i + 1)), similarity=0.5 + i / 20) for i in range(9)]
    obs.append(scored("c9", error="timeout"))
    s = summarize("t", "sim", "m", obs)
    lat = np.arange(1, 10) * 100.0
    assert s.n == 10 and s.n_cases == 10
    assert s.metrics["latency_p50_ms"] == pytest.approx(np.percentile(lat, 50))
    assert s.metrics["latency_p95_ms"] == pytest.approx(np.percentile(lat, 95))
    assert s.metrics["latency_mean_ms"] == pytest.approx(lat.mean())
    assert s.metrics["ttft_p95_ms"] == pytest.approx(np.percentile(lat / 2, 95))
    assert s.metrics["error_rate"] == pytest.approx(0.1)  # over all observations
    assert s.metrics["cost_per_response_usd"] == pytest.approx(0.001)  # successes only
    assert s.metrics["cost_total_usd"] == pytest.approx(0.009)
    assert s.metrics["output_tokens_mean"] == 20
    assert s.metrics["similarity_mean"] == pytest.approx(np.mean(0.5 + np.arange(9) / 20))
    assert s.metrics["check_pass_rate"] == pytest.approx(0.9)  # the failed call did not pass
    assert s.metrics["feedback_negative_rate"] is None  # no samples: not 0
    assert s.errors_by_class["timeout"] == 1 and s.errors_by_class["rate_limit"] == 0


def test_detector_rates_use_only_observations_with_the_score() -> None:
    obs = [
        scored("a", hallucination=1.0, pii=0.0, refusal=0.0, repetition=REPETITION_THRESHOLD),
        scored("b", hallucination=0.0, pii=1.0, refusal=1.0, repetition=0.29),
        scored("c", hallucination=None, pii=0.0, refusal=0.0, repetition=0.0),
        scored("d", checks=(True, False), feedback_negative=1.0),
    ]
    s = summarize("t", "sim", "m", obs)
    assert s.metrics["hallucination_rate"] == pytest.approx(0.5)  # a, b
    assert s.metrics["pii_leak_rate"] == pytest.approx(1 / 3)
    assert s.metrics["refusal_rate"] == pytest.approx(1 / 3)
    assert s.metrics["repetition_rate"] == pytest.approx(1 / 3)  # 0.3 counts, 0.29 not
    assert s.metrics["check_pass_rate"] == pytest.approx(0.75)
    assert s.metrics["feedback_negative_rate"] == 1.0


def test_unknown_cost_makes_cost_metrics_none_not_zero() -> None:
    obs = [scored("a"), scored("b", cost=None), scored("c", error="timeout", cost=None)]
    s = summarize("t", "sim", "m", obs)
    assert s.metrics["cost_per_response_usd"] is None
    assert s.metrics["cost_total_usd"] is None
    assert s.unknown == {"cost_usd": ("golden_sets/s.yaml::b",)}
    # On a subset without the unknown case, cost is known again.
    assert s.metric("cost_total_usd", ["golden_sets/s.yaml::a"]) == pytest.approx(0.001)
    assert s.metric("cost_total_usd", ["golden_sets/s.yaml::b"]) is None


def test_repeats_are_kept_per_case_in_repeat_order() -> None:
    obs = [scored("a", 2, 300.0), scored("a", 0, 100.0), scored("a", 1, 200.0), scored("b")]
    s = summarize("t", "sim", "m", obs)
    assert s.samples["latency_ms"]["golden_sets/s.yaml::a"] == (100.0, 200.0, 300.0)
    assert s.n == 4 and s.n_cases == 2
    _, index, keys = s.sample_values("latency_ms")
    assert keys == ("golden_sets/s.yaml::a", "golden_sets/s.yaml::b")
    assert list(index) == [0, 0, 0, 1]
    assert s.metric("latency_mean_ms", ["golden_sets/s.yaml::a"]) == pytest.approx(200.0)


def test_round_trip_through_json() -> None:
    obs = [scored(f"c{i}", latency=10.0 * i, similarity=0.9, cached=i % 2 == 0) for i in range(5)]
    obs.append(scored("c5", cost=None))
    s = summarize("t", "sim", "m", obs, case_scopes={"golden_sets/s.yaml::c1": {"set:s"}})
    loaded = RunSummary.from_dict(json.loads(json.dumps(s.to_dict())))
    assert loaded == s
    assert loaded.scopes == {"golden_sets/s.yaml::c1": ("set:s",)}
    assert loaded.metrics["cached_share"] == pytest.approx(0.5)


def test_empty_run() -> None:
    s = summarize("t", "sim", "m", [])
    assert s.n == 0 and s.metrics["latency_p95_ms"] is None and s.metrics["error_rate"] is None


_obs = st.builds(
    lambda case, rep, lat, err, cost, sim, checks, cached: scored(
        case,
        rep,
        lat,
        error="timeout" if err else None,
        cost=cost,
        checks=checks,
        cached=cached,
        similarity=sim,
    ),
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 2),
    st.floats(0.0, 10_000.0),
    st.booleans(),
    st.one_of(st.none(), st.floats(0.0, 1.0)),
    st.one_of(st.none(), st.floats(0.0, 1.0)),
    st.lists(st.booleans(), max_size=3).map(tuple),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_obs, max_size=12), st.lists(_obs, max_size=12), st.randoms())
def test_merging_workers_is_order_independent(
    a: list[ScoredObservation], b: list[ScoredObservation], rnd: Any
) -> None:
    whole = summarize("t", "sim", "m", a + b)
    assert summarize("t", "sim", "m", b + a) == whole
    shuffled = list(a + b)
    rnd.shuffle(shuffled)
    assert summarize("t", "sim", "m", shuffled) == whole
    assert whole.n == len(a) + len(b)


def test_sample_columns_read_like_the_dicts_they_replace() -> None:
    obs = [scored("b", 1, 20.0), scored("a", 0, 5.0), scored("b", 0, 10.0), scored("c", 0, 7.0)]
    s = summarize("t", "sim", "m", obs)
    col = s.samples["latency_ms"]
    assert isinstance(col, SampleColumn)
    plain = {
        "golden_sets/s.yaml::a": (5.0,),
        "golden_sets/s.yaml::b": (10.0, 20.0),
        "golden_sets/s.yaml::c": (7.0,),
    }
    assert col == plain and dict(col) == plain and list(col) == sorted(plain)
    assert "golden_sets/s.yaml::b" in col and "golden_sets/s.yaml::z" not in col
    values, index, keys = s.sample_values("latency_ms")
    with pytest.raises(ValueError):  # shared with every caller: read-only
        values[0] = 1.0
    # A subset with repeats: values, case index and keys in sorted key order.
    values, index, keys = s.sample_values(
        "latency_ms", ["golden_sets/s.yaml::c", "golden_sets/s.yaml::b", "nope"]
    )
    assert keys == ("golden_sets/s.yaml::b", "golden_sets/s.yaml::c")
    assert values.tolist() == [10.0, 20.0, 7.0] and index.tolist() == [0, 0, 1]
    # A summary loaded from JSON (plain dicts) answers the same.
    loaded = RunSummary.from_dict(json.loads(json.dumps(s.to_dict())))
    got = loaded.sample_values("latency_ms", ["golden_sets/s.yaml::c", "golden_sets/s.yaml::b"])
    assert got[0].tolist() == [10.0, 20.0, 7.0] and got[2] == keys


def test_duplicate_repeats_are_ordered_by_value_whatever_the_arrival_order() -> None:
    # Two workers both ran repeat 0 of case a (re-runs): the value breaks the tie.
    obs = [scored("a", 0, 30.0), scored("a", 1, 5.0), scored("a", 0, 10.0)]
    for order in (obs, obs[::-1]):
        s = summarize("t", "sim", "m", order)
        assert s.samples["latency_ms"]["golden_sets/s.yaml::a"] == (10.0, 30.0, 5.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(_obs, max_size=12))
def test_reading_a_whole_run_equals_reading_each_observation(obs: list[ScoredObservation]) -> None:
    for sdef in SAMPLES.values():
        assert sdef.extract_all(obs) == [sdef.extract(s) for s in obs]
