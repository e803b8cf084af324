"""p-values for the drift check: exact tails of counts, the two-sample KS test, Student's t.

The gate decides with intervals against budgets (``intervals``, ``bootstrap``); the nightly
drift check also asks "is tonight unusual?", which is a test with a stated false-alarm
rate. Everything here is numpy and the standard library (no scipy): exact binomial,
Poisson-binomial and hypergeometric tails computed in log space, the Kolmogorov-Smirnov
two-sample statistic with the asymptotic p-value, a Student-t quantile (for control
limits estimated from a few runs), and Holm's step-down correction for a family of tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def _log_binomial_pmf(n: int, p: float, ks: FloatArray) -> FloatArray:
    """log P(X = k) for X ~ Binomial(n, p), 0 < p < 1, at each k of ``ks``."""
    lg = np.vectorize(math.lgamma, otypes=[float])
    coeff = math.lgamma(n + 1) - lg(ks + 1) - lg(n - ks + 1)
    out: FloatArray = coeff + ks * math.log(p) + (n - ks) * math.log1p(-p)
    return out


def binomial_pmf(n: int, p: float) -> FloatArray:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p)."""
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n >= 0 and 0 <= p <= 1, got n={n}, p={p}")
    if p in (0.0, 1.0):
        pmf = np.zeros(n + 1)
        pmf[0 if p == 0.0 else n] = 1.0
        return pmf
    pmf = np.exp(_log_binomial_pmf(n, p, np.arange(n + 1, dtype=float)))
    total = float(pmf.sum())
    return pmf / total if total > 0 else pmf


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact (summed in log space)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    logs = _log_binomial_pmf(n, p, np.arange(k, n + 1, dtype=float))
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


def poisson_binomial_sf(k: int, probabilities: Mapping[float, int]) -> float:
    """P(S >= k) where S sums independent Bernoulli trials: ``{p: how many trials}``.

    Exact: the binomial distribution of each group of equal ``p`` is convolved in.
    """
    if k <= 0:
        return 1.0
    dist = np.ones(1)
    for p, count in sorted(probabilities.items()):
        if count > 0:
            dist = np.convolve(dist, binomial_pmf(count, p))
    if k >= dist.size:
        return 0.0
    return float(min(1.0, max(0.0, dist[k:].sum())))


def fisher_greater(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided Fisher exact p-value that the rate ``x1/n1`` exceeds ``x2/n2``.

    Under equal rates, given the total count, ``x1`` is hypergeometric; this is
    P(X >= x1). Used for "more errors (or refusals, or complaints) than before".
    """
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2) or n1 + n2 == 0:
        raise ValueError(f"need 0 <= x <= n, got {x1}/{n1} and {x2}/{n2}")
    total, drawn, events = n1 + n2, n1, x1 + x2
    high = min(events, drawn)
    if x1 <= max(0, drawn - (total - events)):
        return 1.0
    ks = np.arange(x1, high + 1, dtype=float)
    lg = np.vectorize(math.lgamma, otypes=[float])

    def log_choose(a: float, b: FloatArray) -> FloatArray:
        out: FloatArray = math.lgamma(a + 1) - lg(b + 1) - lg(a - b + 1)
        return out

    logs = (
        log_choose(events, ks)
        + log_choose(total - events, drawn - ks)
        - (math.lgamma(total + 1) - math.lgamma(drawn + 1) - math.lgamma(total - drawn + 1))
    )
    top = float(logs.max())
    return min(1.0, math.exp(top) * float(np.exp(logs - top).sum()))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (its two series, exact to double precision)."""
    if x <= 0.0:
        return 1.0
    if x < 1.0:  # the theta-function series converges fast below 1
        k = math.pi * math.pi / (8.0 * x * x)
        series = sum(math.exp(-((2 * j - 1) ** 2) * k) for j in range(1, 8))
        cdf = math.sqrt(2.0 * math.pi) / x * series
        return min(1.0, max(0.0, 1.0 - cdf))
    total = 0.0
    for j in range(1, 101):
        term = math.exp(-2.0 * j * j * x * x)
        total += term if j % 2 else -term
        if term < 1e-18:
            break
    return min(1.0, max(0.0, 2.0 * total))


Values = Sequence[float] | FloatArray


def ks_2samp(a: Values, b: Values) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: (D, two-sided p-value).

    D is the largest distance between the two empirical CDFs. The p-value is the
    asymptotic Kolmogorov distribution at ``(en + 0.12 + 0.11 / en) * D`` with
    ``en = sqrt(n1 n2 / (n1 + n2))`` (Stephens' small-sample correction, as in
    *Numerical Recipes* ``kstwo``): within about 0.01 of the exact p-value from a few
    dozen values per side, which is all a drift threshold needs.
    """
    x = np.sort(np.asarray(a, dtype=float))
    y = np.sort(np.asarray(b, dtype=float))
    n1, n2 = x.size, y.size
    if n1 == 0 or n2 == 0:
        raise ValueError("both samples need at least one value")
    grid = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, grid, side="right") / n1
    cdf_y = np.searchsorted(y, grid, side="right") / n2
    d = float(np.max(np.abs(cdf_x - cdf_y)))
    en = math.sqrt(n1 * n2 / (n1 + n2))
    return d, kolmogorov_sf((en + 0.12 + 0.11 / en) * d)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom (bisection)."""
    if not 0.0 < q < 1.0 or df <= 0:
        raise ValueError(f"need 0 < q < 1 and df > 0, got q={q}, df={df}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if t_cdf(mid, df) < q:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order.

    A test is significant at level alpha for the whole family when its adjusted p-value
    is below alpha. Valid under any dependence between the tests.
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted
