"""p-values and effect sizes of the drift check, against values computed with SciPy 1.17
(not a dependency: the numbers are pinned here) and against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmguard.stats.distance import psi, wasserstein, wasserstein_normalised
from pytest_llmguard.stats.significance import (
    binomial_sf,
    fisher_greater,
    holm,
    kolmogorov_sf,
    ks_2samp,
    poisson_binomial_sf,
    t_quantile,
)


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.3, 0.9999906941986655), (0.8, 0.5441424115741981), (1.0, 0.26999967167735456)]
    + [(1.5, 0.022217962616525127), (2.0, 0.0006709252557796953)],
)
def test_kolmogorov_tail_matches_scipy(x: float, expected: float) -> None:
    assert kolmogorov_sf(x) == pytest.approx(expected, rel=1e-9)


def test_binomial_tail_matches_scipy() -> None:
    assert binomial_sf(10, 200, 0.125) == pytest.approx(0.9998932458978999, rel=1e-9)
    assert binomial_sf(3, 2000, 0.001) == pytest.approx(0.3233235612384794, rel=1e-9)
    assert binomial_sf(0, 5, 0.5) == 1.0 and binomial_sf(6, 5, 0.5) == 0.0
    assert binomial_sf(1, 5, 0.0) == 0.0


def test_fisher_one_sided_matches_scipy() -> None:
    # scipy.stats.fisher_exact([[10, 190], [3, 1397]], alternative="greater")
    assert fisher_greater(10, 200, 3, 1400) == pytest.approx(1.5439901642041007e-07, rel=1e-9)
    assert fisher_greater(1, 200, 0, 1400) == pytest.approx(0.125, rel=1e-9)
    assert fisher_greater(0, 200, 0, 1400) == 1.0
    assert fisher_greater(0, 200, 5, 1400) == 1.0  # fewer events is never "more"


@pytest.mark.parametrize(
    ("q", "df", "expected"),
    [(0.975, 6, 2.4469118511449786), (0.99865, 6, 4.903989775692481)]
    + [(0.995, 3, 5.840909309733355), (0.9, 30, 1.3104150253913955), (0.6, 2, 0.2886751345948)],
)
def test_t_quantile_matches_scipy(q: float, df: int, expected: float) -> None:
    assert t_quantile(q, df) == pytest.approx(expected, rel=1e-9)
    assert t_quantile(1 - q, df) == pytest.approx(-expected, rel=1e-9)


def test_ks_two_sample_statistic_is_exact_and_p_close_to_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 50), rng.normal(0.5, 1, 40)
    d, p = ks_2samp(a, b)
    assert d == pytest.approx(0.335)
    assert p == pytest.approx(0.010471593719851735, abs=0.002)  # scipy's exact p
    a, b = rng.normal(0, 1, 1000), rng.normal(0.1, 1, 1200)
    d, p = ks_2samp(a, b)
    assert d == pytest.approx(0.08983333333333333)
    assert p == pytest.approx(0.0002798654080303468, rel=0.05)
    assert ks_2samp([1.0, 2.0], [1.0, 2.0]) == (0.0, 1.0)


def test_ks_false_alarm_rate_is_at_most_nominal() -> None:
    rng = np.random.default_rng(3)
    rejections = sum(
        ks_2samp(rng.normal(size=60), rng.normal(size=80))[1] < 0.05 for _ in range(400)
    )
    assert rejections / 400 <= 0.08


def test_poisson_binomial_tail_equals_brute_force() -> None:
    ps = [0.5, 0.5, 0.25, 0.25, 0.25]
    brute = 0.0
    for bits in itertools.product([0, 1], repeat=5):
        if sum(bits) >= 3:
            brute += math.prod(p if b else 1 - p for b, p in zip(bits, ps, strict=True))
    assert poisson_binomial_sf(3, {0.5: 2, 0.25: 3}) == pytest.approx(brute)
    assert poisson_binomial_sf(0, {0.5: 2}) == 1.0 and poisson_binomial_sf(3, {0.5: 2}) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12))
def test_holm_adjusted_p_values_are_monotone_and_at_least_the_raw_ones(ps: list[float]) -> None:
    adjusted = holm(ps)
    assert all(a >= p for a, p in zip(adjusted, ps, strict=True))
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    assert all(adjusted[i] <= adjusted[j] for i, j in itertools.pairwise(order))
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_psi_and_wasserstein_match_their_definitions() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 300), rng.normal(0.3, 1.2, 250)
    assert wasserstein(a, b) == pytest.approx(0.2843267089828986)  # scipy.stats
    assert wasserstein_normalised(a, b) == pytest.approx(0.2843267089828986 / np.std(a))
    assert psi(a, a) == 0.0
    assert 0.1 < psi(a, b) < 0.25  # a moderate shift
    tokens = rng.integers(40, 60, 1000).astype(float)
    assert psi(tokens, tokens * 2) > 1.0  # doubled output tokens: a major shift
    assert psi(tokens, rng.integers(40, 60, 1000).astype(float)) < 0.05
    assert wasserstein_normalised([3.0, 3.0], [3.0]) == 0.0
    assert wasserstein_normalised([3.0, 3.0], [4.0]) == float("inf")
