"""One side's values grouped by case, and its statistic over many resamples of cases.

The bootstrap resamples cases, not values: a case is drawn with all of its repeats. This
module turns rows of drawn case indices into one mean, sum or percentile per row without
a Python loop per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def count_draws(drawn: npt.NDArray[Any], n_cases: int) -> IntArray:
    """How often each case appears in each row of ``drawn`` (rows x n_cases)."""
    rows = drawn.shape[0]
    flat = (drawn + (np.arange(rows, dtype=np.int64) * n_cases)[:, None]).ravel()
    counts: IntArray = np.bincount(flat, minlength=rows * n_cases).reshape(rows, n_cases)
    return counts


class CaseValues:
    """One side's values grouped by case, prepared for vectorised resampling.

    Resamples arrive as a matrix of drawn case indices (resamples x cases). Means and
    sums need only per-case sums and counts. Percentiles need order statistics of the
    drawn observations, found by counting rather than sorting: how often each case was
    drawn gives how often each of the side's sorted values was drawn, and a running total
    of those counts locates the k-th smallest with one binary search per row. This is
    exact for any layout (single values, equal repeats, repeats where some calls failed)
    and serves every percentile of a resample at once.
    """

    def __init__(self, values: FloatArray, cases: IntArray, n_cases: int) -> None:
        self.n_cases = n_cases
        self.case_sums = np.bincount(cases, weights=values, minlength=n_cases)
        counts = np.bincount(cases, minlength=n_cases)
        self.counts = counts
        self.case_counts = counts.astype(np.float64)
        self.single = bool((counts == 1).all())
        # Cells of one resample row (padded rows for repeats): sizes the chunks, so it
        # fixes how the seeded draws are split and must not change.
        self.row_cells = n_cases if self.single else n_cases * int(counts.max())
        order = np.argsort(values, kind="stable")
        self.sorted_values = values[order]
        self.sorted_cases = cases[order]
        self.size = values.size
        # Every case holding the same number of values: each resample holds the same total.
        self.repeats = int(counts[0]) if n_cases and (counts == counts[0]).all() else 0
        # Cases labelled by the rank of their only value (see ``bootstrap._rank_labels``):
        # drawn case counts are already counts of the sorted values, no gather needed.
        self.ranked = self.single and bool(np.array_equal(self.sorted_cases, np.arange(n_cases)))

    def full(self, stat: str, q: float | None) -> float:
        """The statistic on the data as observed."""
        if stat == "sum":
            return float(self.case_sums.sum())
        if q is None:
            return float(self.case_sums.sum() / self.case_counts.sum())
        return float(np.percentile(self.sorted_values, q))

    def moment(self, stat: str, drawn: npt.NDArray[Any]) -> FloatArray:
        """The mean or sum for each row of drawn case indices."""
        sums: FloatArray = np.take(self.case_sums, drawn).sum(axis=1)
        if stat == "sum":
            return sums
        if self.single:
            per_case: FloatArray = sums / drawn.shape[1]
            return per_case
        counts: FloatArray = np.take(self.case_counts, drawn).sum(axis=1)
        means: FloatArray = sums / counts
        return means

    def percentiles(self, qs: Sequence[float], drawn_counts: IntArray) -> list[FloatArray]:
        """numpy's "linear" percentile for each row, given how often each case was drawn."""
        per_value = (
            drawn_counts if self.ranked else np.take(drawn_counts, self.sorted_cases, axis=1)
        )
        running = np.cumsum(per_value, axis=1)
        rows, width = running.shape
        if self.single or self.repeats > 1:
            total: int | IntArray = drawn_counts.shape[1] * max(self.repeats, 1)
            span = int(total) + 1
        else:
            total = running[:, -1].copy()
            span = int(total.max()) + 1
        # Shift row r by r * span: the rows become one ascending array, so a single binary
        # search finds, for each row, how many sorted values lie at or below rank k.
        shift = np.arange(rows, dtype=np.int64) * span
        running += shift[:, None]
        flat = running.ravel()
        row_start = np.arange(rows, dtype=np.int64) * width

        def at(k: int | IntArray) -> FloatArray:
            where = np.searchsorted(flat, shift + k, side="right") - row_start
            found: FloatArray = self.sorted_values[where]
            return found

        out: list[FloatArray] = []
        for q in qs:
            # The same arithmetic as numpy.percentile(method="linear"): bit-identical.
            if isinstance(total, int):
                h = (total - 1) * (q / 100.0)
                lo = math.floor(h)
                hi = min(lo + 1, total - 1)
                v_lo, v_hi = at(lo), at(hi)
                fixed: FloatArray = v_lo + (h - lo) * (v_hi - v_lo)
                out.append(fixed)
            else:
                hs = (total - 1) * (q / 100.0)
                los = np.floor(hs).astype(np.int64)
                his = np.minimum(los + 1, total - 1)
                v_lo, v_hi = at(los), at(his)
                varying: FloatArray = v_lo + (hs - los) * (v_hi - v_lo)
                out.append(varying)
        return out

    def resampled(self, stat: str, q: float | None, drawn: npt.NDArray[Any]) -> FloatArray:
        """The statistic for each row of drawn case indices."""
        if q is None:
            return self.moment(stat, drawn)
        return self.percentiles([q], count_draws(drawn, self.n_cases))[0]
