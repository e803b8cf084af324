"""How far apart two samples are, as effect sizes: PSI and the normalised Wasserstein distance.

A p-value says whether a shift is real; with thousands of production records every
shift is "real", so the drift check also asks whether it is material. Both measures
follow the usual conventions of drift monitors:

- PSI (population stability index) over ``bins`` bins cut at the reference's quantiles:
  ``sum((cur% - ref%) * ln(cur% / ref%))``, with empty bins floored at ``EPSILON``.
  Rules of thumb: < 0.1 no material shift, 0.1-0.25 moderate, >= 0.25 major.
- Wasserstein-1 (earth mover's) distance divided by the reference's standard deviation:
  "how many reference standard deviations the distribution moved". Evidently's default
  drift threshold for large numeric columns is 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
EPSILON = 1e-4  # share given to an empty bin, so the log stays finite (as most PSI tools)


def psi(
    reference: Sequence[float] | FloatArray,
    current: Sequence[float] | FloatArray,
    bins: int = 10,
) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are cut at the reference's quantiles, so each holds about ``1 / bins`` of it;
    repeated values (token counts) merge bins rather than leaving empty ones.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("both samples need at least one value")
    inner = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    ref_share = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=inner.size + 1)
    cur_share = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=inner.size + 1)
    p = np.maximum(ref_share / ref.size, EPSILON)
    q = np.maximum(cur_share / cur.size, EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def wasserstein(a: Sequence[float] | FloatArray, b: Sequence[float] | FloatArray) -> float:
    """The Wasserstein-1 distance between two samples: the area between their CDFs."""
    x = np.sort(np.asarray(a, dtype=float))
    y = np.sort(np.asarray(b, dtype=float))
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples need at least one value")
    grid = np.sort(np.concatenate([x, y]))
    widths = np.diff(grid)
    cdf_x = np.searchsorted(x, grid[:-1], side="right") / x.size
    cdf_y = np.searchsorted(y, grid[:-1], side="right") / y.size
    return float(np.sum(np.abs(cdf_x - cdf_y) * widths))


def wasserstein_normalised(
    reference: Sequence[float] | FloatArray, current: Sequence[float] | FloatArray
) -> float:
    """Wasserstein-1 distance in units of the reference's standard deviation.

    A constant reference (standard deviation 0) gives 0 when nothing moved and
    infinity when anything did.
    """
    ref = np.asarray(reference, dtype=float)
    distance = wasserstein(ref, current)
    spread = float(np.std(ref))
    if spread == 0.0:
        return 0.0 if distance == 0.0 else float("inf")
    return distance / spread
