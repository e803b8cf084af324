"""Percentile-bootstrap intervals for a difference of means, sums or percentiles.

``bootstrap_diff`` resamples ``stat(candidate) - stat(baseline)``. The resampling unit is
the *case*: a case is drawn with all of its repeats, so correlated repeats of one prompt
do not pass for independent evidence. Paired (same cases on both sides) draws one set of
case weights for both sides, so per-case difficulty cancels out; unpaired draws each side
independently.

Everything is vectorised over resamples (no Python loop per resample) and seeded, so the
same data always gives the same interval: a gate must never flake.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from .case_values import CaseValues, FloatArray, IntArray, count_draws
from .draws import Draws, active_cache, draw_cases
from .intervals import Interval, two_sided_z

# Bounds one chunk of drawn indices (resamples x cases) and its temporaries in memory.
_CHUNK_CELLS = 2_000_000
# Rows of a chunk are processed this many cells at a time, so gathers stay in cache.
_BLOCK_CELLS = 262_144
_THREADS = min(4, os.cpu_count() or 1)
_PERCENTILE_STAT = re.compile(r"^p(\d+(?:\.\d+)?)$")


def parse_stat(stat: str) -> float | None:
    """``"mean"``/``"sum"`` → None; ``"p95"`` → 95.0. Anything else is a ValueError."""
    if stat in ("mean", "sum"):
        return None
    m = _PERCENTILE_STAT.match(stat)
    if m is None or not 0.0 <= float(m.group(1)) <= 100.0:
        raise ValueError(f"stat must be 'mean', 'sum' or 'pNN' (0..100), got {stat!r}")
    return float(m.group(1))


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
    two_sided_z(confidence)
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
    b_side, c_side = CaseValues(b_vals, b_idx, nb), CaseValues(c_vals, c_idx, nc)
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
    cache = active_cache()
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
        d_b = draw_cases(rng, rows, nb)
        return d_b, d_b if paired else draw_cases(rng, rows, nc)

    def run_chunk(i: int) -> None:
        d_b, d_c = draw(i) if cache is None else cache.get((*draw_key, i), lambda: draw(i))
        for lo in range(0, d_b.shape[0], block):
            hi = lo + block
            at = starts[i] + lo
            b_rows, c_rows = d_b[lo:hi], d_c[lo:hi]
            b_pct: dict[float, FloatArray] = {}
            c_pct: dict[float, FloatArray] = {}
            if pct:
                b_counts = count_draws(b_rows, nb)
                c_counts = b_counts if paired else count_draws(c_rows, nc)
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
