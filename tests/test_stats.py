"""Tests for stats.py: published interval values, coverage, and the vectorised bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytest_llmguard.stats import (
    _Side,
    bootstrap_diff,
    newcombe_diff,
    newcombe_paired_diff,
    parse_stat,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998) single-proportion paper, method 3
        (15, 148, 0.0624, 0.1605),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    iv = wilson_interval(k, n, 0.95)
    assert iv.estimate == pytest.approx(k / n)
    assert (iv.low, iv.high) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2", "est", "low", "high"),
    [
        # Newcombe (1998) Stat Med 17:873, Table II, method 10 (hybrid score, no CC).
        # Note: 56/70 - 48/80 is 0.2000, not 0.1500.
        (56, 70, 48, 80, 0.2000, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.6000, 0.1705, 0.8090),
        (5, 56, 0, 29, 0.0893, -0.0381, 0.1926),
        (0, 10, 0, 20, 0.0, -0.1611, 0.2775),
        # Fagerland, Lydersen & Laake (2017), ch. 4: Perondi et al. 2004.
        (7, 34, 1, 34, 0.1765, 0.0189, 0.3404),
    ],
)
def test_newcombe_matches_published_values(
    k1: int, n1: int, k2: int, n2: int, est: float, low: float, high: float
) -> None:
    iv = newcombe_diff(k1, n1, k2, n2, 0.95)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((est, low, high), abs=5e-5)


def test_newcombe_paired_matches_published_value() -> None:
    # Fagerland et al. (2017), ch. 8: Cavo et al. 2012, table [[59, 6], [16, 80]].
    iv = newcombe_paired_diff(59, 6, 16, 80, 0.95)
    assert (iv.estimate, iv.low, iv.high) == pytest.approx((-0.0621, -0.1186, -0.0046), abs=5e-5)


def test_interval_functions_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        wilson_interval(3, 0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        wilson_interval(1, 4, confidence=1.5)
    with pytest.raises(ValueError):
        newcombe_paired_diff(0, 0, 0, 0)


def test_parse_stat() -> None:
    assert parse_stat("mean") is None
    assert parse_stat("p95") == 95.0
    assert parse_stat("p99.9") == 99.9
    for bad in ("median", "p101", "p", "95"):
        with pytest.raises(ValueError):
            parse_stat(bad)


def _brute_force(
    values: np.ndarray[Any, Any],
    cases: np.ndarray[Any, Any],
    drawn: np.ndarray[Any, Any],
    q: float | None,
) -> np.ndarray[Any, Any]:
    out = []
    for row in drawn:
        flat = np.concatenate([values[cases == c] for c in row])
        out.append(flat.mean() if q is None else np.percentile(flat, q))
    return np.array(out)


@pytest.mark.parametrize("q", [None, 0.0, 10.0, 50.0, 95.0, 100.0])
@pytest.mark.parametrize("layout", ["single", "uniform", "uneven"])
def test_vectorised_statistic_equals_brute_force(q: float | None, layout: str) -> None:
    rng = np.random.default_rng(7)
    n_cases = 12
    if layout == "single":
        cases = rng.permutation(n_cases)
    elif layout == "uniform":  # every case repeated 3 times, in shuffled order
        cases = rng.permutation(np.repeat(np.arange(n_cases), 3))
    else:  # some repeats failed
        cases = np.concatenate([np.arange(n_cases), rng.integers(0, n_cases, 25)])
    values = rng.normal(size=cases.size)
    side = _Side(values, cases, n_cases)
    assert side.single is (layout == "single")
    assert (side.repeats == 3) is (layout == "uniform")
    drawn = rng.integers(0, n_cases, size=(6, n_cases))
    stat = "mean" if q is None else f"p{q:g}"
    got = side.resampled(stat, q, drawn)
    np.testing.assert_allclose(got, _brute_force(values, cases, drawn, q))


def test_bootstrap_estimate_is_the_plain_statistic() -> None:
    rng = np.random.default_rng(1)
    b, c = rng.lognormal(6, 0.4, 300), rng.lognormal(6.1, 0.4, 300)
    for stat, f in (("mean", np.mean), ("sum", np.sum), ("p95", lambda x: np.percentile(x, 95))):
        for paired in (True, False):
            iv = bootstrap_diff(b, c, stat, paired=paired, n_resamples=300)
            assert iv.estimate == pytest.approx(f(c) - f(b))
            assert iv.low <= iv.estimate <= iv.high


def test_bootstrap_is_deterministic_and_seeded() -> None:
    rng = np.random.default_rng(2)
    b, c = rng.normal(size=500), rng.normal(size=500)
    one = bootstrap_diff(b, c, "p90", paired=False, seed=3)
    assert one == bootstrap_diff(b, c, "p90", paired=False, seed=3)
    assert one != bootstrap_diff(b, c, "p90", paired=False, seed=4)


def test_identical_paired_samples_give_a_zero_interval() -> None:
    b = np.random.default_rng(3).lognormal(6, 0.5, 200)
    iv = bootstrap_diff(b, b.copy(), "p95", paired=True)
    assert (iv.estimate, iv.low, iv.high) == (0.0, 0.0, 0.0)


def test_pairing_narrows_the_interval_for_correlated_cases() -> None:
    rng = np.random.default_rng(4)
    difficulty = rng.lognormal(6, 0.8, 400)  # per-case effect shared by both sides
    b = difficulty * rng.normal(1.0, 0.05, 400)
    c = difficulty * rng.normal(1.1, 0.05, 400)
    paired = bootstrap_diff(b, c, "mean", paired=True)
    unpaired = bootstrap_diff(b, c, "mean", paired=False)
    assert paired.method == "bootstrap-paired" and unpaired.method == "bootstrap"
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert (paired.high - paired.low) < 0.3 * (unpaired.high - unpaired.low)
    assert paired.low > 0  # the 10% rise is detected when paired


def test_bootstrap_repeats_resample_whole_cases() -> None:
    rng = np.random.default_rng(5)
    n_cases, reps = 60, 4
    cases = np.repeat(np.arange(n_cases), reps)
    level = np.repeat(rng.lognormal(6, 0.8, n_cases), reps)  # repeats share their case's level
    b = level * rng.normal(1, 0.02, cases.size)
    c = level * rng.normal(1, 0.02, cases.size)
    clustered = bootstrap_diff(
        b, c, "mean", paired=False, baseline_cases=cases, candidate_cases=cases
    )
    naive = bootstrap_diff(b, c, "mean", paired=False)
    # Treating 4 near-identical repeats as independent would overstate the evidence.
    assert (clustered.high - clustered.low) > 1.5 * (naive.high - naive.low)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        bootstrap_diff([], [1.0], "mean", paired=False)
    with pytest.raises(ValueError):
        bootstrap_diff([1.0, float("nan")], [1.0, 2.0], "mean", paired=False)
    with pytest.raises(ValueError, match="every case on both sides"):
        bootstrap_diff([1.0, 2.0], [1.0], "mean", paired=True)
    with pytest.raises(ValueError):
        bootstrap_diff([1.0], [1.0], "p200", paired=True)


def _coverage(intervals: list[tuple[float, float]], truth: float) -> float:
    return float(np.mean([low <= truth <= high for low, high in intervals]))


def test_newcombe_covers_the_true_difference_at_about_95_percent() -> None:
    rng = np.random.default_rng(11)
    p1, p2, n1, n2 = 0.12, 0.07, 150, 150
    ivs = []
    for _ in range(400):
        iv = newcombe_diff(int(rng.binomial(n1, p1)), n1, int(rng.binomial(n2, p2)), n2)
        ivs.append((iv.low, iv.high))
    assert 0.92 <= _coverage(ivs, p1 - p2) <= 0.98


def test_newcombe_paired_covers_the_true_difference_at_about_95_percent() -> None:
    rng = np.random.default_rng(12)
    # Joint cell probabilities: both, only first, only second, neither.
    probs = np.array([0.05, 0.08, 0.03, 0.84])
    truth = (probs[0] + probs[1]) - (probs[0] + probs[2])
    ivs = []
    for _ in range(400):
        a, b, c, d = (int(x) for x in rng.multinomial(200, probs))
        iv = newcombe_paired_diff(a, b, c, d)
        ivs.append((iv.low, iv.high))
    assert 0.92 <= _coverage(ivs, truth) <= 0.98


@pytest.mark.parametrize("paired", [True, False])
def test_bootstrap_mean_covers_the_true_difference_at_about_95_percent(paired: bool) -> None:
    rng = np.random.default_rng(13 + paired)
    n, shift = 120, 30.0
    ivs = []
    for i in range(400):
        level = rng.lognormal(6.0, 0.5, n)
        b = level + rng.normal(0, 40, n)
        c = (level if paired else rng.lognormal(6.0, 0.5, n)) + shift + rng.normal(0, 40, n)
        iv = bootstrap_diff(b, c, "mean", paired=paired, n_resamples=1000, seed=i)
        ivs.append((iv.low, iv.high))
    assert 0.92 <= _coverage(ivs, shift) <= 0.98


def test_bootstrap_median_covers_the_true_difference_at_about_95_percent() -> None:
    rng = np.random.default_rng(17)
    n = 200
    # Normal latencies: true medians 1000 and 1080.
    ivs = []
    for i in range(400):
        b, c = rng.normal(1000, 150, n), rng.normal(1080, 150, n)
        iv = bootstrap_diff(b, c, "p50", paired=False, n_resamples=1000, seed=i)
        ivs.append((iv.low, iv.high))
    assert 0.92 <= _coverage(ivs, 80.0) <= 0.98


@pytest.mark.parametrize("q", [0.0, 5.0, 50.0, 95.0, 99.0, 100.0])
def test_uneven_repeats_with_ties_equal_brute_force(q: float) -> None:
    # Many resamples of cases with 1..4 values each, rounded so values tie: every row's
    # order statistics sit at a different position of the padded band.
    rng = np.random.default_rng(11)
    n_cases = 30
    cases = np.concatenate([np.arange(n_cases), rng.integers(0, n_cases, 60)])
    values = np.round(rng.lognormal(3.0, 0.5, cases.size))
    side = _Side(values, cases, n_cases)
    assert not side.single and side.repeats == 0
    drawn = rng.integers(0, n_cases, size=(200, n_cases))
    got = side.resampled(f"p{q:g}", q, drawn)
    np.testing.assert_allclose(got, _brute_force(values, cases, drawn, q))


def test_one_heavily_repeated_case_keeps_chunks_small() -> None:
    # One case with 200 repeats pads every row to 200 slots; chunks must shrink to match
    # (the interval still equals the brute-force statistic's bootstrap on a small draw).
    cases = np.concatenate([np.arange(50), np.zeros(199, dtype=np.int64)])
    values = np.random.default_rng(3).lognormal(3.0, 0.4, cases.size)
    side = _Side(values, cases, 50)
    assert side.row_cells == 50 * 200
    iv = bootstrap_diff(
        values,
        values * 1.1,
        "p95",
        paired=True,
        baseline_cases=cases,
        candidate_cases=cases,
        n_resamples=300,
    )
    assert iv.low <= iv.estimate <= iv.high
    assert iv.estimate == pytest.approx(np.percentile(values, 95) * 0.1)
