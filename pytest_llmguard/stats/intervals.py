"""Score intervals for rates, and the interval record every method returns.

Wilson for one proportion, Newcombe's square-and-add for the difference of two
(independent or paired). Unlike the bootstrap they behave at 0 % and 100 %, where every
resample of a rate is the same and a bootstrap interval collapses to a point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    method: str  # "bootstrap-paired", "bootstrap", "newcombe", "newcombe-paired", "wilson"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def two_sided_z(confidence: float) -> float:
    """The standard normal quantile that leaves ``(1 - confidence) / 2`` in each tail.

    Raises ValueError unless ``0 < confidence < 1``: every interval checks its
    confidence through here.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(k: float, n: float, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion ``k / n`` (no continuity correction).

    ``k`` and ``n`` may be fractional: effective counts of clustered data (``clustered``).
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = two_sided_z(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    # The bounds at 0/n and n/n are exactly 0 and 1; floating point leaves crumbs.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(p, low, high, "wilson")


def newcombe_diff(k1: float, n1: float, k2: float, n2: float, confidence: float = 0.95) -> Interval:
    """Newcombe hybrid score interval for ``k1/n1 - k2/n2`` (independent samples).

    Method 10 of Newcombe (1998), Statistics in Medicine 17:873-890: Wilson intervals
    for each proportion, combined by "square and add".
    """
    a = wilson_interval(k1, n1, confidence)
    b = wilson_interval(k2, n2, confidence)
    d = a.estimate - b.estimate
    low = d - math.hypot(a.estimate - a.low, b.high - b.estimate)
    high = d + math.hypot(a.high - a.estimate, b.estimate - b.low)
    return Interval(d, max(-1.0, low), min(1.0, high), "newcombe")


def newcombe_paired_diff(
    both: int, only_first: int, only_second: int, neither: int, confidence: float = 0.95
) -> Interval:
    """Newcombe square-and-add interval for ``p1 - p2`` from paired binary data.

    The paired 2x2 table counts cases where the event happened on both sides, only on
    the first, only on the second, or on neither; ``p1 = (both + only_first) / n`` and
    ``p2 = (both + only_second) / n``. Method 10 of Newcombe (1998), Statistics in
    Medicine 17:2635-2650, with the correlation estimate corrected towards zero as in
    Fagerland, Lydersen & Laake, *Statistical Analysis of Contingency Tables* (2017), ch. 8.
    """
    counts = (both, only_first, only_second, neither)
    if min(counts) < 0 or sum(counts) == 0:
        raise ValueError(f"need non-negative counts with a positive total, got {counts}")
    n = sum(counts)
    k1, k2 = both + only_first, both + only_second
    a = wilson_interval(k1, n, confidence)
    b = wilson_interval(k2, n, confidence)
    psi = 0.0
    margins = (k1, n - k1, k2, n - k2)
    if min(margins) > 0:
        cross = both * neither - only_first * only_second
        if cross > n / 2.0:
            psi = (cross - n / 2.0) / math.sqrt(math.prod(margins))
        elif cross < 0:
            psi = cross / math.sqrt(math.prod(margins))
    d = a.estimate - b.estimate
    dl1, du1 = a.estimate - a.low, a.high - a.estimate
    dl2, du2 = b.estimate - b.low, b.high - b.estimate
    low = d - math.sqrt(max(0.0, dl1 * dl1 + du2 * du2 - 2.0 * psi * dl1 * du2))
    high = d + math.sqrt(max(0.0, dl2 * dl2 + du1 * du1 - 2.0 * psi * dl2 * du1))
    return Interval(d, max(-1.0, low), min(1.0, high), "newcombe-paired")
