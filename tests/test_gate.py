"""Tests for gate.py: verdicts on plain synthetic data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from pytest_llmguard.absolute import check_absolute
from pytest_llmguard.adaptive import borderline
from pytest_llmguard.budgets import Budget, Delta
from pytest_llmguard.config import GateConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.gate import compare
from pytest_llmguard.outcome import Comparison, Verdict
from pytest_llmguard.records import CheckResult, ErrorRecord, Observation, ScoredObservation
from pytest_llmguard.summary import RunSummary, summarize
from pytest_llmguard.verdict import overall_verdict

GATE = GateConfig(confidence=0.95, min_cases=20)


def run(
    target: str,
    latencies: Sequence[float] | np.ndarray[Any, Any],
    *,
    prefix: str = "c",
    model: str = "m",
    cost: float | None = 0.001,
    similarity: Sequence[float] | np.ndarray[Any, Any] | None = None,
    errors: Sequence[int] = (),
    cached: bool = False,
    repeats: int = 1,
) -> RunSummary:
    obs = []
    for i, lat in enumerate(latencies):
        for r in range(repeats):
            failed = i in errors
            obs.append(
                ScoredObservation(
                    Observation(
                        case_key=f"golden_sets/s.yaml::{prefix}{i}",
                        target=target,
                        repeat_index=r,
                        model=model,
                        output=None if failed else "ok",
                        latency_ms=None if failed else float(lat) * (1 + 0.01 * r),
                        cost_usd=None if failed else cost,
                        cached=cached,
                        error=ErrorRecord("timeout", "slow") if failed else None,
                    ),
                    checks=(CheckResult("contains", True, ""),),
                    scores={"similarity": None if similarity is None else similarity[i]},
                )
            )
    return summarize(target, "sim", model, obs)


def lognormal(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(7.0, 0.3, n)


def one(comparisons: tuple[Comparison, ...]) -> Comparison:
    assert len(comparisons) == 1
    return comparisons[0]


def budgets(raw: dict[str, Any]) -> tuple[Budget, ...]:
    return parse_budgets(raw)


DESIGN = budgets(
    {
        "latency_p95_ms": {"max": 4000, "max_increase": "15%"},
        "cost_per_response_usd": {"max_increase": "10%"},
        "error_rate": {"max": 0.02, "max_increase": 0.01},
        "similarity_mean": {"min": 0.80, "max_decrease": 0.03},
        "check_pass_rate": {"min": 0.95},
    }
)


def test_identical_runs_pass_every_budget() -> None:
    lat = lognormal(100)
    sim = list(np.linspace(0.85, 0.99, 100))
    base = run("baseline", lat, similarity=sim)
    cand = run("candidate", lat, similarity=sim)
    comparisons = compare(base, cand, DESIGN, GATE)
    assert [c.verdict for c in comparisons] == ["pass"] * 5
    assert overall_verdict(comparisons) == "pass"
    p95 = comparisons[0]
    assert p95.paired and p95.n_paired == 100 and p95.delta == 0.0
    assert p95.interval == (0.0, 0.0)
    assert "within the +15% budget" in p95.reason


def test_clear_regression_fails() -> None:
    lat = lognormal(100)
    c = one(
        compare(
            run("b", lat),
            run("c", lat * 1.5),
            budgets({"latency_p95_ms": {"max_increase": "15%"}}),
            GATE,
        )
    )
    assert c.verdict == "fail"
    assert c.delta_pct == pytest.approx(50.0)
    assert c.interval is not None and c.interval[0] > 0.15 * c.baseline_value  # type: ignore[operator]
    assert "rose 50.0%" in c.reason and "entirely beyond the +15% budget" in c.reason
    assert not borderline(c)


def _borderline_pair() -> tuple[RunSummary, RunSummary]:
    rng = np.random.default_rng(2)
    base = rng.lognormal(7, 0.3, 40)
    cand = base * rng.normal(1.19, 0.3, 40)  # +~20% on average, very noisy per case
    return run("b", base), run("c", cand)


def test_borderline_warns_and_strict_mode_fails_it() -> None:
    base, cand = _borderline_pair()
    mean_budget = budgets({"latency_mean_ms": {"max_increase": "15%"}})
    c = one(compare(base, cand, mean_budget, GATE))
    assert c.verdict == "warn"
    assert c.delta_pct is not None and c.delta_pct > 15
    assert c.interval is not None and c.interval[0] < 0.15 * c.baseline_value < c.interval[1]  # type: ignore[operator]
    assert "reaches back inside it" in c.reason
    assert borderline(c)
    strict = one(compare(base, cand, mean_budget, GateConfig(min_cases=20, strict=True)))
    assert strict.verdict == "fail"
    assert "strict: point estimate only" in strict.reason


def test_borderline_keeps_a_pass_open_only_while_its_estimate_is_near_the_limit() -> None:
    # The change is +21.7% with a standard error of about 5.3% (interval +11%..+32%).
    base, cand = _borderline_pair()
    near = one(compare(base, cand, budgets({"latency_mean_ms": {"max_increase": "24%"}}), GATE))
    assert near.verdict == "pass"
    assert borderline(near)  # +21.7% plus half a standard error reaches past +24%
    far = one(compare(base, cand, budgets({"latency_mean_ms": {"max_increase": "30%"}}), GATE))
    assert far.verdict == "pass" and far.interval is not None
    assert far.interval[1] > 0.30 * far.baseline_value  # type: ignore[operator]
    # The interval still crosses +30%, but a change beyond it is implausible: another
    # look would cost calls on most unchanged models for nothing.
    assert not borderline(far)
    assert far.confidence == GATE.confidence


def test_too_few_cases_skip() -> None:
    lat = lognormal(10)
    comparisons = compare(run("b", lat), run("c", lat * 3), DESIGN[:1], GATE)
    c = one(comparisons)
    assert c.verdict == "skip"
    assert c.reason == "only 10 cases (min_cases 20)"
    assert overall_verdict(comparisons) == "skip"


def test_unmatched_cases_compare_unpaired() -> None:
    base = run("b", lognormal(60, seed=1), prefix="old")
    cand = run("c", lognormal(60, seed=2) * 1.02, prefix="new")
    c = one(compare(base, cand, budgets({"latency_mean_ms": {"max_increase": "15%"}}), GATE))
    assert not c.paired and c.n_paired == 0 and c.n_baseline == c.n_candidate == 60
    assert c.method == "bootstrap"
    assert c.verdict == "pass"


def test_pairing_detects_what_unpaired_cannot() -> None:
    rng = np.random.default_rng(3)
    lat = rng.lognormal(7.0, 1.0, 80)  # cases differ a lot from one another
    cand = lat * rng.normal(1.25, 0.03, 80)
    budget = budgets({"latency_mean_ms": {"max_increase": "10%"}})
    paired = one(compare(run("b", lat), run("c", cand), budget, GATE))
    unpaired = one(compare(run("b", lat, prefix="x"), run("c", cand, prefix="y"), budget, GATE))
    assert paired.verdict == "fail" and paired.method == "bootstrap-paired"
    assert unpaired.verdict == "warn" and unpaired.method == "bootstrap"


def test_partial_overlap_pairs_the_matched_cases() -> None:
    lat = lognormal(50)
    base = run("b", lat)
    cand = run("c", np.concatenate([lat[:30], lognormal(20, seed=9) * 3]))
    cand_new = run("c", np.concatenate([lat[:30], lognormal(20, seed=9) * 3]), prefix="n")
    # Cases c0..c29 match; the candidate's other cases have new keys (n30..n49).
    mixed = summarize(
        "c",
        "sim",
        "m",
        [
            ScoredObservation(
                Observation(
                    case_key=k,
                    target="c",
                    repeat_index=0,
                    model="m",
                    output="ok",
                    latency_ms=v[0],
                    cost_usd=0.001,
                )
            )
            for summary, wanted in ((cand, range(30)), (cand_new, range(30, 50)))
            for k, v in summary.samples["latency_ms"].items()
            if int(k.rsplit("::", 1)[1][1:]) in wanted
        ],
    )
    c = one(compare(base, mixed, budgets({"latency_mean_ms": {"max_increase": "5%"}}), GATE))
    assert c.paired and c.n_paired == 30 and c.n_candidate == 30
    assert c.delta == 0.0 and c.verdict == "pass"


def test_scoped_budgets_use_only_their_cases() -> None:
    lat = lognormal(60)
    cand_lat = lat.copy()
    cand_lat[:30] *= 1.6  # only set "a" regressed
    scopes = {
        f"golden_sets/s.yaml::c{i}": frozenset({"set:a" if i < 30 else "set:b", "tag:x"})
        for i in range(60)
    }
    raw = {"by_set": {name: {"latency_p50_ms": {"max_increase": "20%"}} for name in ("a", "b")}}
    a, b = compare(run("b", lat), run("c", cand_lat), budgets(raw), GATE, case_scopes=scopes)
    assert (a.scope, a.verdict, a.n_candidate) == ("set:a", "fail", 30)
    assert (b.scope, b.verdict, b.n_candidate) == ("set:b", "pass", 30)
    tag = one(
        compare(
            run("b", lat),
            run("c", cand_lat),
            budgets({"by_tag": {"x": {"latency_p50_ms": {"max_increase": "20%"}}}}),
            GATE,
            case_scopes=scopes,
        )
    )
    assert tag.n_candidate == 60
    nobody = one(
        compare(
            run("b", lat),
            run("c", cand_lat),
            budgets({"by_tag": {"y": {"latency_p50_ms": {"max": 1}}}}),
            GATE,
            case_scopes=scopes,
        )
    )
    assert nobody.verdict == "skip"


def test_case_filter_narrows_every_budget() -> None:
    lat = lognormal(60)
    cand_lat = lat.copy()
    cand_lat[:30] *= 2
    budget = budgets({"latency_mean_ms": {"max_increase": "10%"}})

    def keep(key: str) -> bool:
        return int(key.rsplit("c", 1)[1]) >= 30

    c = one(compare(run("b", lat), run("c", cand_lat), budget, GATE, case_filter=keep))
    assert c.verdict == "pass" and c.n_paired == 30


def test_unknown_cost_skips_with_the_model_named() -> None:
    lat = lognormal(50)
    base = run("b", lat, model="gpt-base")
    cand = run("c", lat, model="mystery-1", cost=None)
    c = one(compare(base, cand, budgets({"cost_per_response_usd": {"max_increase": "10%"}}), GATE))
    assert c.verdict == "skip"
    assert c.reason == "cost unknown for model mystery-1 (no price)"
    assert c.candidate_value is None and c.delta is None
    absolute = one(check_absolute(cand, budgets({"cost_total_usd": {"max": 1}}), GATE))
    assert absolute.verdict == "skip" and "mystery-1" in absolute.reason


def test_absolute_bounds_without_a_baseline() -> None:
    lat = lognormal(50) + 4000
    cand = run("c", lat, similarity=[0.7] * 50)
    comparisons = check_absolute(cand, DESIGN, GATE)
    by_metric = {c.metric: c for c in comparisons}
    assert set(by_metric) == {"latency_p95_ms", "error_rate", "similarity_mean", "check_pass_rate"}
    assert by_metric["latency_p95_ms"].verdict == "fail"
    assert (
        "above the max 4,000 ms (point estimate over 50 cases)"
        in by_metric["latency_p95_ms"].reason
    )
    assert by_metric["similarity_mean"].verdict == "fail"
    assert "below the min 80.0%" in by_metric["similarity_mean"].reason
    assert by_metric["error_rate"].verdict == "pass"
    no_sim = one(check_absolute(run("c", lat), DESIGN[3:4], GATE))
    assert (no_sim.verdict, no_sim.reason) == ("skip", "no similarity values for c")
    assert by_metric["latency_p95_ms"].baseline is None
    assert overall_verdict(comparisons) == "fail"


def test_absolute_bound_breaks_even_when_relative_passes() -> None:
    lat = lognormal(50) + 5000
    c = one(compare(run("b", lat), run("c", lat), DESIGN[:1], GATE))
    assert c.verdict == "fail" and "above the max" in c.reason


def test_relative_budget_on_a_zero_baseline() -> None:
    lat = lognormal(40)
    budget = budgets({"error_rate": {"max_increase": "50%"}})
    same = one(compare(run("b", lat), run("c", lat), budget, GATE))
    assert same.verdict == "pass"
    worse = one(compare(run("b", lat), run("c", lat, errors=range(4)), budget, GATE))
    assert worse.verdict == "skip"
    assert "baseline of 0" in worse.reason and "max_increase: 0.01" in worse.reason


def test_rates_use_newcombe_intervals() -> None:
    lat = lognormal(200)
    budget = budgets({"error_rate": {"max_increase": 0.01}})
    c = one(compare(run("b", lat), run("c", lat, errors=range(20)), budget, GATE))
    assert c.method == "newcombe-paired" and c.verdict == "fail"
    assert c.delta == pytest.approx(0.1)
    assert "rose 10.0 pts" in c.reason and "+1 pts budget" in c.reason
    unpaired = one(
        compare(run("b", lat, prefix="x"), run("c", lat, errors=range(20)), budget, GATE)
    )
    assert unpaired.method == "newcombe" and unpaired.verdict == "fail"


def test_repeats_use_clustered_score_intervals_for_rates() -> None:
    lat = lognormal(40)
    budget = budgets({"error_rate": {"max_increase": 0.05}})
    c = one(compare(run("b", lat, repeats=3), run("c", lat, repeats=3, errors=[1]), budget, GATE))
    assert c.method == "newcombe-clustered"
    assert c.verdict == "pass"


def test_a_rate_of_zero_with_repeats_is_not_taken_as_exactly_zero() -> None:
    # One case fails all three times: 3 of 120 calls, but only one case's worth of
    # evidence. A case bootstrap would treat the baseline's 0 % as certain.
    lat = lognormal(40)
    budget = budgets({"error_rate": {"max_increase": 0.01}})
    c = one(compare(run("b", lat, repeats=3), run("c", lat, repeats=3, errors=[1]), budget, GATE))
    assert c.interval is not None and c.delta == pytest.approx(0.025)
    assert c.interval[0] < 0.0  # neither the clustering nor the baseline's 0/120 is ignored
    assert c.verdict == "warn"


def test_decrease_budget_on_similarity() -> None:
    lat = lognormal(60)
    sim = np.random.default_rng(5).uniform(0.8, 1.0, 60)
    budget = budgets({"similarity_mean": {"max_decrease": 0.03, "max_increase": "50%"}})
    c = one(
        compare(
            run("b", lat, similarity=list(sim)),
            run("c", lat, similarity=list(sim - 0.1)),
            budget,
            GATE,
        )
    )
    assert c.verdict == "fail"
    assert "fell 10.0 pts" in c.reason and "-3 pts budget" in c.reason


def test_timings_from_the_cache_are_flagged() -> None:
    lat = lognormal(40)
    c = one(compare(run("b", lat), run("c", lat, cached=True), DESIGN[:1], GATE))
    assert c.cached_share == 1.0
    assert "100% of the timings came from the cache" in c.reason


def test_saved_baseline_gives_the_same_comparisons() -> None:
    base, cand = _borderline_pair()
    saved = RunSummary.from_dict(json.loads(json.dumps(base.to_dict())))
    direct = compare(base, cand, DESIGN, GATE)
    loaded = compare(saved, cand, DESIGN, GATE, baseline_label="runs/main.json")
    assert [c.to_dict() | {"baseline": None} for c in direct] == [
        c.to_dict() | {"baseline": None} for c in loaded
    ]
    assert loaded[0].baseline == "runs/main.json"


def test_to_dict_carries_the_design_fields() -> None:
    base, cand = _borderline_pair()
    d = compare(base, cand, DESIGN[:1], GATE)[0].to_dict()
    for key in (
        "metric",
        "baseline",
        "candidate",
        "baseline_value",
        "candidate_value",
        "delta",
        "delta_pct",
        "interval",
        "budget",
        "verdict",
        "n_paired",
        "cached_share",
    ):
        assert key in d
    assert d["budget"] == {
        "metric": "latency_p95_ms",
        "scope": "all",
        "max": 4000.0,
        "min": None,
        "max_increase": "15%",
        "max_decrease": None,
    }
    json.dumps(d)


def _c(verdict: Verdict) -> Comparison:
    return Comparison(
        "m",
        "all",
        None,
        "c",
        None,
        None,
        None,
        None,
        None,
        Budget("error_rate", max=1.0),
        verdict,
        "",
        0,
        0,
        0,
        None,
        False,
    )


def test_overall_verdict() -> None:
    assert overall_verdict([]) == "pass"
    assert overall_verdict([_c("skip"), _c("skip")]) == "skip"
    assert overall_verdict([_c("skip"), _c("pass")]) == "pass"
    assert overall_verdict([_c("pass"), _c("warn"), _c("skip")]) == "warn"
    assert overall_verdict([_c("warn"), _c("fail")]) == "fail"


def test_deterministic() -> None:
    base, cand = _borderline_pair()
    assert compare(base, cand, DESIGN, GATE) == compare(base, cand, DESIGN, GATE)
    assert Delta(0.15, True).to_json() == "15%"


# Verdicts and intervals from the gate before it batched its bootstraps (one bootstrap per
# budget, fresh draws each time); batching and shared draws must not move them at all.
PINNED_COMPARISONS = [
    ("latency_p95_ms", "pass", 53.25664459721361, (-6.4842055394165, 130.07689771383374)),
    ("latency_p50_ms", "warn", 43.349321692814556, (16.090962983846666, 70.26420796186977)),
    (
        "cost_per_response_usd",
        "pass",
        -9.054021679789784e-07,
        (-5.119599907350264e-06, 3.5218563170109203e-06),
    ),
    ("similarity_mean", "pass", 0.007685422902349637, (-0.03629114076075441, 0.04800661965163157)),
]


def _pinned_run(target: str, shift: float, seed: int) -> RunSummary:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(300):
        for rep in range(2 if i % 4 == 0 else 1):
            o = Observation(
                case_key=f"s.yaml::c{i}",
                target=target,
                repeat_index=rep,
                model="m",
                output="x",
                latency_ms=float(rng.lognormal(6, 0.3)) * shift,
                cost_usd=float(rng.uniform(1e-4, 2e-4)),
            )
            out.append(ScoredObservation(o, (), {"similarity": float(rng.random())}))
    return summarize(target, "p", "m", out)


def test_comparisons_are_pinned_bit_for_bit() -> None:
    base, cand = _pinned_run("base", 1.0, 1), _pinned_run("cand", 1.1, 2)
    raw = {
        "latency_p95_ms": {"max_increase": "15%"},
        "latency_p50_ms": {"max_increase": "5%"},
        "cost_per_response_usd": {"max_increase": "10%"},
        "similarity_mean": {"max_decrease": 0.05},
    }
    got = compare(base, cand, parse_budgets(raw), GateConfig(), n_resamples=400, seed=5)
    assert [(c.metric, c.verdict, c.delta, c.interval) for c in got] == PINNED_COMPARISONS
    # Each budget alone gets the same interval as when judged with the others.
    for comparison in got:
        alone = compare(base, cand, (comparison.budget,), GateConfig(), n_resamples=400, seed=5)
        assert alone[0].interval == comparison.interval


def test_unpaired_comparison_of_different_case_sets() -> None:
    # Too few shared cases to pair: the sides are compared unpaired, whatever their sizes.
    base = run("base", lognormal(80, seed=1), prefix="a")
    cand = run("cand", lognormal(50, seed=2) * 1.5, prefix="b")
    (c,) = compare(base, cand, budgets({"latency_p95_ms": {"max_increase": "10%"}}), GATE)
    assert not c.paired and c.n_baseline == 80 and c.n_candidate == 50
    assert c.interval is not None and c.method == "bootstrap" and c.verdict == "fail"
