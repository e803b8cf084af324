"""Tests for stats/: published interval values, coverage, and the vectorised bootstrap."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pytest_llmguard.stats import (
    bootstrap_diff,
    bootstrap_diffs,
    effective_counts,
    look_levels,
    newcombe_clustered,
    newcombe_diff,
    newcombe_paired_diff,
    parse_stat,
    pocock_spent,
    shared_draws,
    wilson_interval,
)
from pytest_llmguard.stats.case_values import CaseValues


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
    side = CaseValues(values, cases, n_cases)
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
    side = CaseValues(values, cases, n_cases)
    assert not side.single and side.repeats == 0
    drawn = rng.integers(0, n_cases, size=(200, n_cases))
    got = side.resampled(f"p{q:g}", q, drawn)
    np.testing.assert_allclose(got, _brute_force(values, cases, drawn, q))


def test_one_heavily_repeated_case_keeps_chunks_small() -> None:
    # One case with 200 repeats pads every row to 200 slots; chunks must shrink to match
    # (the interval still equals the brute-force statistic's bootstrap on a small draw).
    cases = np.concatenate([np.arange(50), np.zeros(199, dtype=np.int64)])
    values = np.random.default_rng(3).lognormal(3.0, 0.4, cases.size)
    side = CaseValues(values, cases, 50)
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


# Intervals computed by the implementation before the counting rewrite (partition of
# ranks, one bootstrap per statistic); the rewrite must reproduce them bit for bit,
# because a seeded gate promises the same verdict on the same data forever.
PINNED = [
    ("single", "mean", True, 36.464689889882095, 30.971918222588002, 42.059747840393555),
    ("repeats", "mean", True, 36.663908546578966, 30.661934575084068, 42.652764727325035),
    ("uneven", "mean", True, 36.29181168916227, 30.356298381536753, 42.46867016410462),
    ("single", "mean", False, 36.46468988988215, -0.37401186252072804, 73.00199416095754),
    ("repeats", "mean", False, 36.663908546578966, 2.297991661034869, 71.8587855714702),
    ("uneven", "mean", False, 36.29181168916227, 1.5512301498314898, 72.26753645785453),
    ("single", "sum", True, 14585.875955952826, 12388.7672890352, 16823.899136157423),
    ("repeats", "sum", True, 43996.69025589479, 36794.32149010086, 51183.317672790035),
    ("uneven", "sum", True, 40719.41271524003, 34190.8517275047, 47911.458320472855),
    ("single", "sum", False, 14585.875955952855, -149.6047450082883, 29200.797664383008),
    ("repeats", "sum", False, 43996.69025589479, 2757.589993241847, 86230.5426857642),
    ("uneven", "sum", False, 40719.41271524003, 2709.0452261731148, 82554.49502488633),
    ("single", "p50", True, 23.22383766944614, 11.787963271195206, 36.42493960455201),
    ("repeats", "p50", True, 28.347668915863494, 13.98135486812507, 40.64958651107595),
    ("uneven", "p50", True, 28.191539259264346, 13.19620607008212, 41.5229046982498),
    ("single", "p50", False, 23.22383766944614, -10.467711072122457, 59.167058235110616),
    ("repeats", "p50", False, 28.347668915863494, -5.836626066679281, 65.06790571911793),
    ("uneven", "p50", False, 28.191539259264346, -8.80526829429518, 64.65061585459537),
    ("single", "p95", True, 83.28873873041596, 22.49566031373765, 135.95097798459454),
    ("repeats", "p95", True, 84.51456578718228, 25.765121107214785, 124.18666481907661),
    ("uneven", "p95", True, 78.68169612968234, 24.093923701930596, 124.54534224946134),
    ("single", "p95", False, 83.28873873041596, -96.41116730260212, 220.87727194716652),
    ("repeats", "p95", False, 84.51456578718228, -83.56334302032536, 220.9457002356691),
    ("uneven", "p95", False, 78.68169612968234, -83.42312151832117, 216.51534708049874),
]


def _pinned_data() -> dict[str, tuple[Any, Any, Any]]:
    rng = np.random.default_rng(2024)
    n = 400
    base = rng.lognormal(6.0, 0.5, n)
    cand = base * rng.normal(1.08, 0.1, n)
    cases = np.repeat(np.arange(n), 3)
    b3 = np.repeat(base, 3) * rng.normal(1, 0.05, 3 * n)
    c3 = np.repeat(cand, 3) * rng.normal(1, 0.05, 3 * n)
    keep = rng.random(3 * n) >= 0.1
    keep[::3] = True
    return {
        "single": (base, cand, None),
        "repeats": (b3, c3, cases),
        "uneven": (b3[keep], c3[keep], cases[keep]),
    }


@pytest.mark.parametrize("pin", PINNED, ids=lambda p: "-".join(str(x) for x in p[:3]))
def test_intervals_are_pinned_bit_for_bit(pin: tuple[Any, ...]) -> None:
    layout, stat, paired, estimate, low, high = pin
    b, c, cases = _pinned_data()[layout]
    iv = bootstrap_diff(
        b,
        c,
        stat,
        paired=paired,
        n_resamples=500,
        seed=7,
        baseline_cases=cases,
        candidate_cases=cases,
    )
    assert (iv.estimate, iv.low, iv.high) == (estimate, low, high)


@pytest.mark.parametrize("layout", ["single", "repeats", "uneven"])
@pytest.mark.parametrize("paired", [True, False])
def test_bootstrap_diffs_equals_one_call_per_statistic(layout: str, paired: bool) -> None:
    b, c, cases = _pinned_data()[layout]
    stats = ["p95", "mean", "p50", "sum", "p95"]
    kwargs: dict[str, Any] = {"paired": paired, "n_resamples": 300, "seed": 3}
    alone = [
        bootstrap_diff(b, c, s, baseline_cases=cases, candidate_cases=cases, **kwargs)
        for s in stats
    ]
    together = bootstrap_diffs(b, c, stats, baseline_cases=cases, candidate_cases=cases, **kwargs)
    assert list(together) == alone
    with shared_draws():  # the second call reuses the first one's draws
        first = bootstrap_diffs(b, c, stats, baseline_cases=cases, candidate_cases=cases, **kwargs)
        again = bootstrap_diffs(b, c, stats, baseline_cases=cases, candidate_cases=cases, **kwargs)
    assert list(first) == list(again) == alone


def test_shared_draws_serve_only_bootstraps_with_the_same_draws() -> None:
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=200), rng.normal(size=200)
    runs = ((200, 0), (150, 0), (200, 1))  # (cases, seed): no two draw alike
    alone = [bootstrap_diff(x[:n], y[:n], "mean", paired=True, seed=s) for n, s in runs]
    with shared_draws():
        shared = [bootstrap_diff(x[:n], y[:n], "mean", paired=True, seed=s) for n, s in runs]
    assert shared == alone


def test_unpaired_sides_keep_their_own_cases() -> None:
    # The candidate's 6 values belong to 2 cases; the baseline has 6 single-valued cases.
    # Resampling whole candidate cases gives means of 1, 3 or 5 only (2 cases drawn).
    baseline = np.zeros(6)
    candidate = np.array([1.0, 1.0, 1.0, 5.0, 5.0, 5.0])
    iv = bootstrap_diff(
        baseline,
        candidate,
        "mean",
        paired=False,
        n_resamples=4000,
        candidate_cases=[0, 0, 0, 1, 1, 1],
    )
    assert (iv.low, iv.high) == (1.0, 5.0)
    # Sides of different sizes (unpaired gates over different case sets) work too.
    iv = bootstrap_diff(np.arange(5.0), np.arange(9.0), "p50", paired=False, n_resamples=200)
    assert iv.estimate == 2.0 and iv.low <= 2.0 <= iv.high


# ---- rates with repeats: design-effect scaled score intervals --------------------------


def test_effective_counts_shrink_to_one_call_per_case_when_repeats_agree() -> None:
    cases = np.repeat(np.arange(50), 4)
    agree = np.repeat((np.arange(50) < 10).astype(float), 4)  # a case fails always or never
    k, n = effective_counts(agree, cases)
    assert (k, n) == pytest.approx((10.0, 50.0), rel=0.03)
    rng = np.random.default_rng(3)
    independent = (rng.random(200) < 0.2).astype(float)
    k, n = effective_counts(independent, cases)
    assert n > 150 and k / n == pytest.approx(independent.mean())
    assert effective_counts(np.zeros(200), cases) == (0.0, 200.0)  # nothing to scale


def test_clustered_interval_covers_the_truth_better_than_counting_every_call() -> None:
    # Each case has its own error propensity, so repeats of a case are correlated: the
    # naive Newcombe on all calls is too narrow, the clustered one is not.
    rng = np.random.default_rng(21)
    cases = np.repeat(np.arange(100), 5)
    naive, clustered = [], []
    for _ in range(600):
        pb = rng.beta(0.5, 9.5, 100)  # mean 5 %, very uneven across cases
        pc = rng.beta(0.5, 4.5, 100)  # mean 10 %
        b = (rng.random(500) < np.repeat(pb, 5)).astype(float)
        c = (rng.random(500) < np.repeat(pc, 5)).astype(float)
        iv = newcombe_clustered(b, cases, c, cases)
        clustered.append((iv.low, iv.high))
        flat = newcombe_diff(int(c.sum()), 500, int(b.sum()), 500)
        naive.append((flat.low, flat.high))
    # Such skewed per-case rates are a hard case for any variance estimate over 100
    # cases: the clustered interval comes close to its level, the naive one does not.
    assert _coverage(naive, 0.05) < 0.88
    assert 0.90 <= _coverage(clustered, 0.05) <= 0.99


# ---- alpha spending across sequential looks ----------------------------------------------


def test_look_levels_spend_exactly_the_single_look_error() -> None:
    assert look_levels(0.95, [1.0]) == (0.95,)
    levels = look_levels(0.95, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert sum((1.0 - level) / 2.0 for level in levels) == pytest.approx(0.025)
    assert all(0.95 < level < 1.0 for level in levels)
    assert levels[0] < levels[-1]  # Pocock-type: the first look gets the largest share
    assert pocock_spent(0.025, 0.0) == 0.0
    assert pocock_spent(0.025, 1.0) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="increasing"):
        look_levels(0.95, [2.0, 1.0])
    with pytest.raises(ValueError, match="confidence"):
        look_levels(1.0, [1.0])


def test_spent_levels_keep_the_false_failure_rate_across_looks() -> None:
    """Looking six times at the full level fails a change sitting exactly at its limit
    far more often than one look would; the spent levels do not."""
    rng = np.random.default_rng(5)
    limit, base, n = 0.02, 0.05, 150  # error rate +2 points allowed; true change: +2 points
    looks = 6
    levels = look_levels(0.95, [float(k) for k in range(1, looks + 1)])
    naive = spent = 0
    runs = 2000
    for _ in range(runs):
        kb = kc = m = 0
        naive_failed = spent_failed = False
        for look in range(looks):
            kb += int(rng.binomial(n, base))
            kc += int(rng.binomial(n, base + limit))
            m += n
            naive_failed |= newcombe_diff(kc, m, kb, m, 0.95).low > limit
            spent_failed |= newcombe_diff(kc, m, kb, m, levels[look]).low > limit
        naive += naive_failed
        spent += spent_failed
    assert naive / runs > 0.04  # well over the 2.5 % one look allows
    assert spent / runs <= 0.025 + 0.01  # within alpha (plus Monte Carlo error)
