"""Production drift: a recent window of production records against the window before it.

The log readers (``sources/``) turn each logged call into a ``ProductionRecord``; this
module only needs that small interface, so it does not care which format a log was in.
Windows: the newest ``recent`` (default 1 day, ending at the newest record or ``now``)
against the ``reference`` before it (default 7 days).

What is tested, and when it counts as drift (defaults, all in ``drift.production``):

- **Distributions** of latency, input tokens, output tokens, cost per response and
  output length (successful calls): the two-sample Kolmogorov-Smirnov test. With both
  windows up to ``ks_max_rows`` (1,000) rows, KS decides alone (Evidently's default: a
  p-value below 0.05). With more rows, where KS finds even a negligible shift
  significant, the shift must also be material: normalised Wasserstein distance >=
  ``wasserstein`` (0.1 reference standard deviations, Evidently's default for large
  columns) or PSI >= ``psi`` (0.1: the usual "moderate shift" line; 0.25 is "major").
- **Rates** of errors (each class apart), refusals and negative feedback: a one-sided
  Fisher exact test for "higher than before" (a fall is good news, not drift).
- **Multiple testing**: every p-value of the night (KS and rates) is Holm-corrected as
  one family at ``alpha`` (0.05), so the chance of any false alarm from the whole set of
  tests is at most 5 % a night with no change; the output says so.

A window with fewer than ``min_rows`` (30) values of a field is not tested (said plainly).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_llmguard.config.records import ProductionSettings
from pytest_llmguard.stats.distance import psi, wasserstein_normalised
from pytest_llmguard.stats.significance import fisher_greater, holm, ks_2samp


@dataclass(frozen=True, slots=True)
class ProductionRecord:
    """One logged production call, as the drift check needs it (None: not logged)."""

    timestamp: float  # unix time of the call
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    output_length: int | None = None  # characters of the response
    error_class: str | None = None  # None: the call succeeded
    refusal: bool | None = None
    feedback_negative: bool | None = None


DISTRIBUTIONS = ("latency_ms", "input_tokens", "output_tokens", "cost_usd", "output_length")


@dataclass(frozen=True, slots=True)
class FieldTest:
    """One test of the night: a distribution or a rate, with its decision."""

    name: str  # "latency_ms", "error_rate[rate_limit]", "refusal_rate", ...
    kind: str  # "distribution" or "rate"
    n_reference: int
    n_recent: int
    p_value: float
    p_adjusted: float = 1.0
    statistic: float | None = None  # KS D
    psi: float | None = None
    wasserstein: float | None = None
    reference_value: float | None = None  # median, or rate
    recent_value: float | None = None
    drifted: bool = False
    reason: str = ""

    @property
    def size(self) -> float:
        """How big the shift is, growing as it worsens (alerts re-fire on growth): the
        normalised Wasserstein distance of a distribution, the rise of a rate. Not the
        p-value: it shrinks as a shift worsens, and with the window's size."""
        if self.kind == "rate":
            return max(0.0, (self.recent_value or 0.0) - (self.reference_value or 0.0))
        return self.wasserstein if self.wasserstein is not None else self.statistic or 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True)
class ProductionDrift:
    """The production windows' tests, the correction applied and what was not tested."""

    tests: tuple[FieldTest, ...]
    correction: str
    window: tuple[float, float, float]  # reference start, recent start, recent end
    skipped: tuple[str, ...] = field(default=())
    counts: tuple[int, int] = (0, 0)  # records in the reference and the recent window

    @property
    def drifted(self) -> tuple[FieldTest, ...]:
        return tuple(t for t in self.tests if t.drifted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tests": [t.to_dict() for t in self.tests],
            "correction": self.correction,
            "window": list(self.window),
            "skipped": list(self.skipped),
            "records": {"reference": self.counts[0], "recent": self.counts[1]},
        }


def _values(records: Sequence[ProductionRecord], name: str) -> np.ndarray[Any, Any]:
    found = [getattr(r, name) for r in records if r.error_class is None]
    return np.asarray([v for v in found if v is not None], dtype=float)


def _distribution(
    name: str, ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any], s: ProductionSettings
) -> FieldTest:
    d, p = ks_2samp(ref, cur)
    return FieldTest(
        name,
        "distribution",
        int(ref.size),
        int(cur.size),
        p,
        statistic=d,
        psi=psi(ref, cur, s.bins),
        wasserstein=wasserstein_normalised(ref, cur),
        reference_value=float(np.median(ref)),
        recent_value=float(np.median(cur)),
    )


Flag = Callable[[ProductionRecord], "bool | None"]


def _is_error(error_class: str) -> Flag:
    return lambda r: r.error_class == error_class


def _rate(
    name: str,
    ref: Sequence[ProductionRecord],
    cur: Sequence[ProductionRecord],
    flag: Flag,
) -> FieldTest | None:
    ref_flags = [v for v in map(flag, ref) if v is not None]
    cur_flags = [v for v in map(flag, cur) if v is not None]
    if not ref_flags or not cur_flags:
        return None
    x_r, x_c = sum(ref_flags), sum(cur_flags)
    return FieldTest(
        name,
        "rate",
        len(ref_flags),
        len(cur_flags),
        fisher_greater(x_c, len(cur_flags), x_r, len(ref_flags)),
        reference_value=x_r / len(ref_flags),
        recent_value=x_c / len(cur_flags),
    )


def production_drift(
    records: Iterable[ProductionRecord],
    settings: ProductionSettings,
    *,
    now: float | None = None,
) -> ProductionDrift:
    """Compare the recent window with the reference window (see the module docstring)."""
    rows = list(records)
    end = now if now is not None else max((r.timestamp for r in rows), default=0.0)
    recent_start = end - settings.recent_s
    ref_start = recent_start - settings.reference_s
    cur = [r for r in rows if recent_start < r.timestamp <= end]
    ref = [r for r in rows if ref_start < r.timestamp <= recent_start]
    tests: list[FieldTest] = []
    skipped: list[str] = []
    for name in DISTRIBUTIONS:
        a, b = _values(ref, name), _values(cur, name)
        if min(a.size, b.size) < settings.min_rows:
            if a.size or b.size:
                skipped.append(f"{name}: {a.size} reference and {b.size} recent values")
            continue
        tests.append(_distribution(name, a, b, settings))
    classes = sorted({r.error_class for r in rows if r.error_class is not None})
    rates: list[tuple[str, Flag]] = [(f"error_rate[{c}]", _is_error(c)) for c in classes]
    rates.append(("refusal_rate", lambda r: r.refusal))
    rates.append(("feedback_negative_rate", lambda r: r.feedback_negative))
    for name, flag in rates:
        found = _rate(name, ref, cur, flag) if len(ref) >= settings.min_rows else None
        if found is None or found.n_recent < settings.min_rows:
            if any(flag(r) is not None for r in rows):
                skipped.append(f"{name}: too few records in a window")
            continue
        tests.append(found)
    adjusted = holm([t.p_value for t in tests])
    decided = tuple(_decide(t, p, settings) for t, p in zip(tests, adjusted, strict=True))
    correction = (
        f"Holm step-down over all {len(tests)} tests of the night at family-wise "
        f"alpha {settings.alpha:g}"
    )
    window = (ref_start, recent_start, end)
    return ProductionDrift(decided, correction, window, tuple(skipped), (len(ref), len(cur)))


def _decide(test: FieldTest, p_adjusted: float, s: ProductionSettings) -> FieldTest:
    significant = p_adjusted < s.alpha
    if test.kind == "rate":
        drifted = significant
        why = (
            f"{test.name} {test.recent_value:.2%} recent vs {test.reference_value:.2%} "
            f"reference (Fisher, Holm-adjusted p = {p_adjusted:.2g})"
        )
    else:
        small = max(test.n_reference, test.n_recent) <= s.ks_max_rows
        material = (test.wasserstein or 0.0) >= s.wasserstein or (test.psi or 0.0) >= s.psi
        drifted = significant and (small or material)
        rule = "KS alone (small windows)" if small else "KS and a material shift"
        why = (
            f"{test.name} median {test.reference_value:g} -> {test.recent_value:g}: "
            f"KS D = {test.statistic:.3f}, Holm-adjusted p = {p_adjusted:.2g}; "
            f"PSI {test.psi:.3f}, Wasserstein {test.wasserstein:.3f} sd ({rule})"
        )
    return FieldTest(
        **{**test.to_dict(), "p_adjusted": p_adjusted, "drifted": drifted, "reason": why}
    )


def window_notes(drift: ProductionDrift, min_rows: int) -> list[str]:
    """How many records each window held, and which window was too small to test."""
    ref_start, recent_start, end = drift.window
    n_ref, n_recent = drift.counts
    out = [
        f"production windows: reference {when_utc(ref_start)} .. {when_utc(recent_start)} held "
        f"{n_ref:,} record(s), recent .. {when_utc(end)} held {n_recent:,}"
    ]
    for name, n in (("reference", n_ref), ("recent", n_recent)):
        if n < min_rows:
            out.append(
                f"production: the {name} window holds {n:,} record(s), under "
                f"drift.production.min_rows ({min_rows}): too small to test"
            )
    return out


def when_utc(seconds: float) -> str:
    """A window bound in the drift output: to the minute, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))
