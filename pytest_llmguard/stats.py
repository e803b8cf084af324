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
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Bounds one chunk of drawn indices (resamples x cases) and its temporaries in memory.
_CHUNK_CELLS = 2_000_000
# Rows of a chunk are processed this many cells at a time, so gathers stay in cache.
_BLOCK_CELLS = 262_144
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
        # Cases labelled by the rank of their only value (see _rank_labels): drawn case
        # counts are already counts of the sorted values, no gather needed.
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
        return self.percentiles([q], _drawn_counts(drawn, self.n_cases))[0]


def _drawn_counts(drawn: npt.NDArray[Any], n_cases: int) -> IntArray:
    """How often each case appears in each row of ``drawn`` (rows x n_cases)."""
    rows = drawn.shape[0]
    flat = (drawn + (np.arange(rows, dtype=np.int64) * n_cases)[:, None]).ravel()
    counts: IntArray = np.bincount(flat, minlength=rows * n_cases).reshape(rows, n_cases)
    return counts


def _index_dtype(n: int) -> type[np.unsignedinteger[Any]]:
    # Small index types make drawing and gathering markedly faster.
    return np.uint16 if n <= 1 << 16 else np.uint32


def _draw_cases(rng: np.random.Generator, rows: int, n_cases: int) -> npt.NDArray[Any]:
    """``rows`` resamples of ``n_cases`` case indices drawn with replacement."""
    return rng.integers(0, n_cases, size=(rows, n_cases), dtype=_index_dtype(n_cases))


Draws = tuple[npt.NDArray[Any], npt.NDArray[Any]]


class _DrawCache:
    """Drawn case indices kept for reuse by later bootstraps with the same draws."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.store: dict[tuple[Any, ...], Draws] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Draws]) -> Draws:
        with self.lock:
            found = self.store.get(key)
        if found is not None:
            return found
        draws = make()
        size = draws[0].nbytes + (0 if draws[1] is draws[0] else draws[1].nbytes)
        with self.lock:
            if self.used + size <= self.max_bytes:
                self.store[key] = draws
                self.used += size
        return draws


_SHARED: ContextVar[_DrawCache | None] = ContextVar("_SHARED", default=None)


@contextmanager
def shared_draws(max_bytes: int = 256 << 20) -> Iterator[None]:
    """Within this block, bootstraps that would draw the same case indices draw them once.

    The draws depend only on the seed, ``n_resamples``, the number of cases per side,
    pairing and the chunking (itself set by the data's shape), so reusing them changes
    no result; it saves the drawing, the slowest step once the data are counted. Up to
    ``max_bytes`` of draws are kept, until the block ends.
    """
    token = _SHARED.set(_DrawCache(max_bytes))
    try:
        yield
    finally:
        _SHARED.reset(token)


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
    """Relabel cases by the rank of their value when each case holds exactly one value.

    ``other`` (the paired side's case index) is relabelled the same way; without it the
    second result is ``idx`` relabelled again, for the caller to ignore.
    """
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
    return bootstrap_diffs(
        baseline,
        candidate,
        (stat,),
        paired=paired,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        baseline_cases=baseline_cases,
        candidate_cases=candidate_cases,
    )[0]


def bootstrap_diffs(
    baseline: npt.ArrayLike,
    candidate: npt.ArrayLike,
    stats: Sequence[str],
    *,
    paired: bool,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    baseline_cases: npt.ArrayLike | None = None,
    candidate_cases: npt.ArrayLike | None = None,
) -> tuple[Interval, ...]:
    """``bootstrap_diff`` for several statistics of the same data, in one pass.

    Each interval is exactly the one ``bootstrap_diff`` gives for that statistic alone
    (the same seeded draws serve every statistic); the resamples are drawn and counted
    once instead of once per statistic.
    """
    qs = [parse_stat(stat) for stat in stats]
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
        # Label single-valued cases by the rank of their value (the baseline owns the
        # labels), so the baseline's drawn counts are already counts of sorted values.
        b_idx, c_idx = _rank_labels(b_vals, b_idx, nb, c_idx)
    else:
        nb, nc = int(b_idx.max()) + 1, int(c_idx.max()) + 1
        if not (np.bincount(b_idx).all() and np.bincount(c_idx).all()):
            raise ValueError("case indices must be 0..k-1 with no gaps")
        b_idx, _ = _rank_labels(b_vals, b_idx, nb, None)
        c_idx, _ = _rank_labels(c_vals, c_idx, nc, None)
    b_side, c_side = _Side(b_vals, b_idx, nb), _Side(c_vals, c_idx, nc)
    estimates = [
        c_side.full(stat, q) - b_side.full(stat, q) for stat, q in zip(stats, qs, strict=True)
    ]

    widest = max(b_vals.size, c_vals.size, b_side.row_cells, c_side.row_cells)
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // widest))
    starts = range(0, n_resamples, chunk)
    # One generator per chunk, spawned from the seed: the result depends on the seed and
    # the data only, never on how many threads happened to run the chunks.
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    diffs = np.empty((len(stats), n_resamples), dtype=np.float64)
    cache = _SHARED.get()
    draw_key = (seed, n_resamples, chunk, nb, nc, paired)
    # Rows are worked through in blocks that stay in cache; every row's result is the
    # same whatever the block size.
    block = max(1, _BLOCK_CELLS // max(nb, nc, b_vals.size, c_vals.size))
    paired_single = paired and b_side.single and c_side.single
    case_diff = c_side.case_sums - b_side.case_sums if paired_single else None
    pct = sorted({q for q in qs if q is not None})

    def draw(i: int) -> Draws:
        rng = np.random.default_rng(seeds[i])
        rows = min(chunk, n_resamples - starts[i])
        d_b = _draw_cases(rng, rows, nb)
        return d_b, d_b if paired else _draw_cases(rng, rows, nc)

    def run_chunk(i: int) -> None:
        d_b, d_c = draw(i) if cache is None else cache.get((*draw_key, i), lambda: draw(i))
        for lo in range(0, d_b.shape[0], block):
            hi = lo + block
            at = starts[i] + lo
            b_rows, c_rows = d_b[lo:hi], d_c[lo:hi]
            b_pct: dict[float, FloatArray] = {}
            c_pct: dict[float, FloatArray] = {}
            if pct:
                b_counts = _drawn_counts(b_rows, nb)
                c_counts = b_counts if paired else _drawn_counts(c_rows, nc)
                b_pct = dict(zip(pct, b_side.percentiles(pct, b_counts), strict=True))
                c_pct = dict(zip(pct, c_side.percentiles(pct, c_counts), strict=True))
            for j, (stat, q) in enumerate(zip(stats, qs, strict=True)):
                out = diffs[j, at : at + b_rows.shape[0]]
                if q is not None:
                    out[:] = c_pct[q] - b_pct[q]
                elif case_diff is not None:
                    # Mean/sum of paired single values: one gather of per-case differences.
                    out[:] = np.take(case_diff, b_rows).sum(axis=1)
                    if stat == "mean":
                        out /= nb
                else:
                    out[:] = c_side.moment(stat, c_rows) - b_side.moment(stat, b_rows)

    workers = min(len(starts), _THREADS)
    if workers > 1:
        # numpy releases the GIL in drawing, gathering and counting.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_chunk, range(len(starts))))
    else:
        for i in range(len(starts)):
            run_chunk(i)
    alpha = (1.0 - confidence) / 2.0
    method = "bootstrap-paired" if paired else "bootstrap"
    out: list[Interval] = []
    for j, estimate in enumerate(estimates):
        low, high = np.quantile(diffs[j], [alpha, 1.0 - alpha])
        out.append(Interval(estimate, float(low), float(high), method))
    return tuple(out)
