"""Alpha spending: how a gate that looks several times keeps its false-failure rate.

A sequential gate judges a budget after the first calls and again after each round of
repeats. Judging every look at the full level would fail a within-budget model more
often than the level says (each look is another chance of a false failure). Instead
the one-sided error ``alpha = (1 - confidence) / 2`` that a single look would allow is
*spent* over the looks with the Lan-DeMets Pocock-type spending function

    spent(t) = alpha * ln(1 + (e - 1) * t)       (t = information so far / at most)

and look ``k`` is judged at the level of its own increment ``spent(t_k) - spent(t_k-1)``.
The increments add up to ``alpha``, so by the union bound the chance that *any* look
fails a budget whose true change sits exactly at its limit is at most ``alpha``, whatever
the correlation between looks and however many looks are actually made (stopping
early only leaves alpha unspent). This is more conservative than exact group-sequential
boundaries, which would need the joint distribution of the looks; it needs nothing but
each look's interval being valid at its own level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from .intervals import two_sided_z


def pocock_spent(alpha: float, t: float) -> float:
    """The one-sided error spent by information fraction ``t`` (0..1)."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"information fraction must be in 0..1, got {t}")
    return alpha * math.log1p((math.e - 1.0) * t)


def look_levels(confidence: float, information: Sequence[float]) -> tuple[float, ...]:
    """The two-sided confidence of each look's intervals.

    ``information`` is each look's cumulative information (e.g. calls per case so far),
    increasing; the last is the most a gate may gather. One look gets ``confidence``.
    """
    two_sided_z(confidence)  # validates it
    if not information or any(b <= a for a, b in pairwise(information)):
        raise ValueError("information must be a non-empty increasing sequence")
    if information[0] <= 0:
        raise ValueError("information must be positive")
    alpha = (1.0 - confidence) / 2.0
    total = information[-1]
    spent = [pocock_spent(alpha, i / total) for i in information]
    spent[-1] = alpha  # exactly, whatever the rounding of the logarithm
    increments = [spent[0], *(b - a for a, b in pairwise(spent))]
    return tuple(1.0 - 2.0 * a for a in increments)
