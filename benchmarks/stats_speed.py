"""How long the gate's bootstrap takes: 10,000 cases x 2,000 resamples.

    .venv/bin/python benchmarks/stats_speed.py [--cases 10000] [--resamples 2000]

Prints the best and median of a few timed runs per statistic, paired and unpaired, and
the same with 3 repeats per case, and with 3 repeats where 2% of calls failed (uneven
repeats take the slower weighted-percentile path).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

from pytest_llmguard.stats import bootstrap_diff


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.cases
    base = rng.lognormal(7.0, 0.4, n)
    cand = base * rng.normal(1.05, 0.1, n)
    print(f"bootstrap_diff, {n:,} cases x {args.resamples:,} resamples, {os.cpu_count()} CPUs")
    print(f"{'stat':<6} {'mode':<9} {'repeats':>7} {'failed':>6} {'best s':>8} {'median s':>9}")
    for repeats, failed in ((1, 0.0), (3, 0.0), (3, 0.02)):
        cases = np.repeat(np.arange(n), repeats)
        b = np.repeat(base, repeats) * rng.normal(1, 0.05, n * repeats)
        c = np.repeat(cand, repeats) * rng.normal(1, 0.05, n * repeats)
        if repeats == 1:
            b, c = base, cand
        keep = rng.random(cases.size) >= failed
        keep[::repeats] = True  # every case keeps at least one value
        b, c, cases = b[keep], c[keep], cases[keep]
        for stat in ("mean", "p50", "p95"):
            for paired in (True, False):
                call = functools.partial(
                    bootstrap_diff,
                    b,
                    c,
                    stat,
                    paired=paired,
                    n_resamples=args.resamples,
                    baseline_cases=cases,
                    candidate_cases=cases,
                )
                best, median = _time(call, args.runs if repeats == 1 else max(1, args.runs // 2))
                mode = "paired" if paired else "unpaired"
                print(
                    f"{stat:<6} {mode:<9} {repeats:>7} {failed:>6.0%} {best:>8.3f} {median:>9.3f}"
                )


if __name__ == "__main__":
    main()
