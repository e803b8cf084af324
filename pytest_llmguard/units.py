"""How a metric's value, change and bound are written, in every report and every reason.

One module, so the same number reads the same everywhere: a budget's reason, the
terminal table, the PR comment and the HTML report. Units are the metric units of
``summary.METRICS``: ``ms``, ``tokens``, ``usd`` and ``ratio`` (a share from 0 to 1,
written as a percentage; its changes are in percentage points).
"""

from __future__ import annotations

import math

from pytest_llmguard.budgets import Delta

MISSING = "n/a"


def _money(value: float) -> str:
    """Dollars with four significant digits and no exponent: $0.00003708, $0.1234, $12.50."""
    if value == 0:
        return "$0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = min(10, max(2, 3 - magnitude))
    text = f"{abs(value):,.{decimals}f}"
    return ("-$" if value < 0 else "$") + text


def format_number(value: float | None, unit: str) -> str:
    """A value without its unit word (for table columns whose header names the unit)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "usd":
        return _money(value)
    if unit == "ms":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    if unit == "count" or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def format_value(value: float | None, unit: str) -> str:
    """A value with its unit: ``187 ms``, ``40.2 tokens``, ``97.5%``, ``$0.00003708``."""
    text = format_number(value, unit)
    if text == MISSING or unit not in ("ms", "tokens"):
        return text
    return f"{text} {unit}"


def format_delta(delta: float, unit: str) -> str:
    """A signed change in the metric's units (ratios in percentage points)."""
    if unit == "ratio":
        return f"{delta * 100:+.1f} pts"
    sign = "+" if delta >= 0 else "-"
    return sign + format_value(abs(delta), unit)


def format_change(delta: float, unit: str, base: float | None) -> str:
    """A change as a percent of the baseline where that means something, else in units."""
    if unit != "ratio" and base:
        return f"{delta / abs(base) * 100:+.1f}%"
    return format_delta(delta, unit)


def format_interval(interval: tuple[float, float], unit: str, base: float | None) -> str:
    """The interval of a change, written like the change itself: ``-7.3%..+12.7%``."""
    low, high = interval
    return f"{format_change(low, unit, base)}..{format_change(high, unit, base)}"


def format_budget_delta(delta: Delta, sign: str, unit: str) -> str:
    """A relative budget as written (``+15%``) or an absolute one in units (``+2 pts``)."""
    if delta.relative:
        return f"{sign}{delta.value * 100:g}%"
    if unit == "ratio":
        return f"{sign}{delta.value * 100:g} pts"
    return sign + format_value(delta.value, unit)
