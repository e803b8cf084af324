"""Confidence intervals for the difference between a baseline and a candidate.

Two families, chosen by the gate per metric:

- ``bootstrap_diff``: percentile bootstrap of ``stat(candidate) - stat(baseline)`` for
  means, sums and percentiles. The resampling unit is the *case*: a case is drawn with all
  of its repeats, so correlated repeats of one prompt do not pass for independent evidence.
  Paired (same cases on both sides) draws one set of case weights for both sides, so
  per-case difficulty cancels out; unpaired draws each side independently.
- ``wilson_interval`` / ``newcombe_diff`` / ``newcombe_paired_diff``: score intervals
  for rates, which behave at 0 % and 100 % where the bootstrap collapses to a point.

Everything is vectorised over resamples (no Python loop per resample) and seeded, so the
same data always gives the same interval: a gate must never flake.
"""

from __future__ import annotations

import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Bounds one chunk of drawn indices (resamples x cases) and its temporaries in memory.
_CHUNK_CELLS = 2_000_000
_THREADS = min(4, os.cpu_count() or 1)
_PERCENTILE_STAT = re.compile(r"^p(\d+(?:\.\d+)?)$")


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    method: str  # "bootstrap-paired", "bootstrap", "newcombe", "newcombe-paired", "wilson"

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion ``k / n`` (no continuity correction)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    z = _z(confidence)
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    # The bounds at 0/n and n/n are exactly 0 and 1; floating point leaves crumbs.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(p, low, high, "wilson")


def newcombe_diff(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Interval:
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


def parse_stat(stat: str) -> float | None:
    """``"mean"``/``"sum"`` → None; ``"p95"`` → 95.0. Anything else is a ValueError."""
    if stat in ("mean", "sum"):
        return None
    m = _PERCENTILE_STAT.match(stat)
    if m is None or not 0.0 <= float(m.group(1)) <= 100.0:
        raise ValueError(f"stat must be 'mean', 'sum' or 'pNN' (0..100), got {stat!r}")
    return float(m.group(1))


class _Side:
    """One side's values grouped by case, prepared for vectorised resampling.

    Resamples arrive as a matrix of drawn case indices (resamples x cases). Means and
    sums need only per-case sums and counts. Percentiles partition the *ranks* of the
    drawn observations (a cheap integer partition). When cases hold different numbers
    of values (repeats where some calls failed) the rows are padded and each resample's
    order statistics are found in a narrow band, still exact for the flattened repeats.
    """

    def __init__(self, values: FloatArray, cases: IntArray, n_cases: int) -> None:
        self.n_cases = n_cases
        self.case_sums = np.bincount(cases, weights=values, minlength=n_cases)
        counts = np.bincount(cases, minlength=n_cases)
        self.case_counts = counts.astype(np.float64)
        self.single = bool((counts == 1).all())
        # Cells of one resample row (padded rows for repeats): sizes the chunks.
        self.row_cells = n_cases if self.single else n_cases * int(counts.max())
        order = np.argsort(values, kind="stable")
        self.sorted_values = values[order]
        self.sorted_cases = cases[order]
        # Every case holding the same number of repeats (no failed calls) needs no band.
        self.repeats = int(counts[0]) if n_cases and (counts == counts[0]).all() else 0
        if not self.single:
            # One row of observation ranks per case. Cases with fewer repeats (failed
            # calls) are padded with a rank above every real one, so padding sorts last
            # and the first ``total`` ranks of a resample are exactly its observations.
            width = int(counts.max())
            self.pad = values.size
            obs_rank = np.empty(values.size, dtype=_index_dtype(values.size + 1))
            obs_rank[order] = np.arange(values.size)
            by_case = np.argsort(cases, kind="stable")
            slot = np.arange(values.size) - np.repeat(np.cumsum(counts) - counts, counts)
            self.rank_rows = np.full((n_cases, width), self.pad, dtype=obs_rank.dtype)
            self.rank_rows[cases[by_case], slot] = obs_rank[by_case]
            self.counts = counts
        if self.single:
            # rank[c] is the position of case c's only value among the sorted values.
            # None when the caller already labelled cases by rank (saves a gather).
            rank = np.empty(n_cases, dtype=_index_dtype(n_cases))
            rank[self.sorted_cases] = np.arange(n_cases)
            self.rank: npt.NDArray[Any] | None = (
                None if np.array_equal(self.sorted_cases, np.arange(n_cases)) else rank
            )

    def full(self, stat: str, q: float | None) -> float:
        """The statistic on the data as observed."""
        if stat == "sum":
            return float(self.case_sums.sum())
        if q is None:
            return float(self.case_sums.sum() / self.case_counts.sum())
        return float(np.percentile(self.sorted_values, q))

    def resampled(self, stat: str, q: float | None, drawn: npt.NDArray[Any]) -> FloatArray:
        """The statistic for each row of drawn case indices."""
        if stat == "sum" or q is None:
            sums: FloatArray = np.take(self.case_sums, drawn).sum(axis=1)
            if stat == "sum":
                return sums
            if self.single:
                per_case: FloatArray = sums / drawn.shape[1]
                return per_case
            counts: FloatArray = np.take(self.case_counts, drawn).sum(axis=1)
            means: FloatArray = sums / counts
            return means
        if self.single:
            return self._percentile_single(q, drawn)
        rows = np.take(self.rank_rows, drawn, axis=0).reshape(drawn.shape[0], -1)
        if self.repeats > 1:
            return self._percentile_of_ranks(q, rows)
        return self._percentile_of_padded_ranks(q, rows, np.take(self.counts, drawn).sum(axis=1))

    def _percentile_single(self, q: float, drawn: npt.NDArray[Any]) -> FloatArray:
        in_rank_space = drawn if self.rank is None else np.take(self.rank, drawn)
        return self._percentile_of_ranks(q, in_rank_space)

    def _percentile_of_ranks(self, q: float, ranks_drawn: npt.NDArray[Any]) -> FloatArray:
        # Each row holds the ranks (positions in sorted_values) of one resample; two
        # order statistics of the ranks give numpy's "linear" percentile.
        n = ranks_drawn.shape[1]
        h = (n - 1) * (q / 100.0)
        lo = math.floor(h)
        hi = min(lo + 1, n - 1)
        ranks = np.partition(ranks_drawn, sorted({lo, hi}), axis=1)
        v_lo = self.sorted_values[ranks[:, lo]]
        v_hi = self.sorted_values[ranks[:, hi]]
        result: FloatArray = v_lo + (h - lo) * (v_hi - v_lo)
        return result

    def _percentile_of_padded_ranks(
        self, q: float, rows: npt.NDArray[Any], total: IntArray
    ) -> FloatArray:
        # Resamples hold different numbers of observations (``total``), so the two order
        # statistics numpy's "linear" method needs sit at a different position in each
        # row, but all within one narrow band: partition at the band's ends, sort only
        # the band, and pick each row's two positions from it.
        h = (total - 1) * (q / 100.0)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, total - 1)
        first, last = int(lo.min()), int(hi.max())
        parted = np.partition(rows, sorted({first, last}), axis=1)
        band = np.sort(parted[:, first : last + 1], axis=1)
        at = np.arange(rows.shape[0])
        v_lo = self.sorted_values[band[at, lo - first]]
        v_hi = self.sorted_values[band[at, hi - first]]
        result: FloatArray = v_lo + (h - lo) * (v_hi - v_lo)
        return result


def _index_dtype(n: int) -> type[np.unsignedinteger[Any]]:
    # Small index types make drawing and partitioning markedly faster.
    return np.uint16 if n <= 1 << 16 else np.uint32


def _draw_cases(rng: np.random.Generator, rows: int, n_cases: int) -> npt.NDArray[Any]:
    """``rows`` resamples of ``n_cases`` case indices drawn with replacement."""
    return rng.integers(0, n_cases, size=(rows, n_cases), dtype=_index_dtype(n_cases))


def _case_index(cases: npt.ArrayLike | None, size: int, name: str) -> IntArray:
    if cases is None:
        return np.arange(size, dtype=np.int64)
    idx = np.asarray(cases, dtype=np.int64)
    if idx.shape != (size,):
        raise ValueError(f"{name}_cases must have one case index per value ({size})")
    if size and idx.min() < 0:
        raise ValueError(f"{name}_cases must be non-negative")
    return idx


def _rank_labels(
    values: FloatArray, idx: IntArray, n_cases: int, other: IntArray | None
) -> tuple[IntArray, IntArray]:
    """Relabel cases by the rank of their value when each case holds exactly one value."""
    other_idx = idx if other is None else other
    if idx.size != n_cases or np.bincount(idx, minlength=n_cases).max() != 1:
        return idx, other_idx
    by_case = np.empty(n_cases, dtype=np.float64)
    by_case[idx] = values
    new_label = np.empty(n_cases, dtype=np.int64)
    new_label[np.argsort(by_case, kind="stable")] = np.arange(n_cases)
    return new_label[idx], new_label[other_idx]


def bootstrap_diff(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    stat: str,
    *,
    paired: bool,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    baseline_cases: npt.ArrayLike | None = None,
    candidate_cases: npt.ArrayLike | None = None,
) -> Interval:
    """Percentile-bootstrap interval for ``stat(candidate) - stat(baseline)``.

    ``stat`` is ``"mean"``, ``"sum"`` or ``"pNN"`` (numpy's linear percentile, e.g.
    ``"p95"``). Without ``*_cases`` each value is its own case. With them, value ``i``
    belongs to case ``*_cases[i]`` (a small non-negative integer) and a case is resampled
    together with all its repeats. ``paired=True`` needs the same case indices on both
    sides (every case with at least one value on each side): one draw of cases is
    applied to both, which is what makes a paired interval narrow. The estimate is the
    statistic on the full data; the interval is the central ``confidence`` share of
    ``n_resamples`` resampled differences, drawn from ``numpy.random.default_rng(seed)``.
    """
    q = parse_stat(stat)
    _z(confidence)
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    b_vals = np.asarray(baseline, dtype=np.float64).ravel()
    c_vals = np.asarray(candidate, dtype=np.float64).ravel()
    if b_vals.size == 0 or c_vals.size == 0:
        raise ValueError("both samples need at least one value")
    if not (np.isfinite(b_vals).all() and np.isfinite(c_vals).all()):
        raise ValueError("samples must be finite numbers")
    b_idx = _case_index(baseline_cases, b_vals.size, "baseline")
    c_idx = _case_index(candidate_cases, c_vals.size, "candidate")
    if paired:
        n_cases = int(max(b_idx.max(), c_idx.max())) + 1
        b_present = np.bincount(b_idx, minlength=n_cases) > 0
        c_present = np.bincount(c_idx, minlength=n_cases) > 0
        if not (b_present.all() and c_present.all()):
            raise ValueError("paired bootstrap needs every case on both sides")
        nb = nc = n_cases
    else:
        nb, nc = int(b_idx.max()) + 1, int(c_idx.max()) + 1
        if not (np.bincount(b_idx).all() and np.bincount(c_idx).all()):
            raise ValueError("case indices must be 0..k-1 with no gaps")
    # Label single-valued cases by the rank of their value, so percentiles of the side
    # that owns the labels need no gather (paired: the baseline owns them).
    b_idx, c_idx = _rank_labels(b_vals, b_idx, nb, c_idx if paired else None)
    if not paired:
        c_idx, _ = _rank_labels(c_vals, c_idx, nc, None)
    b_side, c_side = _Side(b_vals, b_idx, nb), _Side(c_vals, c_idx, nc)
    estimate = c_side.full(stat, q) - b_side.full(stat, q)

    widest = max(b_vals.size, c_vals.size, b_side.row_cells, c_side.row_cells)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // widest))
    starts = range(0, n_resamples, chunk)
    # One generator per chunk, spawned from the seed: the result depends on the seed and
    # the data only, never on how many threads happened to run the chunks.
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    diffs = np.empty(n_resamples, dtype=np.float64)

    def run_chunk(i: int) -> None:
        rng = np.random.default_rng(seeds[i])
        rows = min(chunk, n_resamples - starts[i])
        d_b = _draw_cases(rng, rows, nb)
        d_c = d_b if paired else _draw_cases(rng, rows, nc)
        out = diffs[starts[i] : starts[i] + rows]
        if paired and q is None and b_side.single and c_side.single:
            # Mean/sum of paired single values: one gather of per-case differences.
            out[:] = np.take(c_side.case_sums - b_side.case_sums, d_b).sum(axis=1)
            if stat == "mean":
                out /= nb
        else:
            out[:] = c_side.resampled(stat, q, d_c) - b_side.resampled(stat, q, d_b)

    workers = min(len(starts), _THREADS)
    if workers > 1:
        # numpy releases the GIL in drawing, gathering and partitioning.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_chunk, range(len(starts))))
    else:
        for i in range(len(starts)):
            run_chunk(i)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    method = "bootstrap-paired" if paired else "bootstrap"
    return Interval(estimate, float(low), float(high), method)
