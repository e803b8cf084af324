"""Parse the ``budgets`` config section into ``Budget`` records (one ConfigError per mistake).

See ``pytest_llmguard.budgets`` for what the bounds mean.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from rapidfuzz import process

from pytest_llmguard.budgets import BOUND_KEYS, PERCENT, SCOPE_KEYS, Budget, Delta
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.summary import METRICS, MetricDef

_EXAMPLE = '{max: 4000, max_increase: "15%"}'


def _did_you_mean(word: str, choices: Collection[str]) -> str | None:
    matches = process.extract(word, list(choices), limit=3, score_cutoff=60)
    if not matches:
        return None
    # Ties are common between sibling names (latency_p59_ms: p50 or p95?); offer all.
    best = [repr(name) for name, score, _ in matches if score == matches[0][1]]
    options = best[0] if len(best) == 1 else f"{', '.join(best[:-1])} or {best[-1]}"
    return f"did you mean {options}?"


def _number(value: Any) -> float | None:
    # bool is an int in Python, but `max: true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _parse_bound(
    key: str, value: Any, mdef: MetricDef, path: str, file: str | None
) -> float | Delta:
    where = f"{path}.{key}"
    number = _number(value)
    percent = PERCENT.match(value) if isinstance(value, str) else None
    ratio = mdef.unit == "ratio"
    if key in ("max", "min"):
        if percent is not None and ratio:
            number = float(percent.group(1)) / 100.0
        if number is None:
            allowed = 'a number, or a percentage like "2%"' if ratio else "a number"
            unit = "a share from 0 to 1" if ratio else mdef.unit
            raise ConfigError(
                f"expected {allowed} ({unit}), got {value!r}", file=file, key_path=where
            )
        if number < 0 or (ratio and number > 1):
            hint = 'rates are shares from 0 to 1: write 0.02 or "2%"' if ratio else None
            span = "between 0 and 1" if ratio else "at least 0"
            raise ConfigError(
                f"{key} must be {span}, got {value!r}", file=file, key_path=where, hint=hint
            )
        return number
    if percent is not None:
        return Delta(float(percent.group(1)) / 100.0, relative=True)
    if number is None:
        if isinstance(value, str) and value.strip().startswith("-"):
            raise ConfigError(
                f"{key} must not be negative, got {value!r}: it bounds the size of a change",
                file=file,
                key_path=where,
            )
        raise ConfigError(
            f'expected a percentage like "15%" (relative to the baseline) or a number in '
            f"{mdef.unit}, got {value!r}",
            file=file,
            key_path=where,
        )
    if number < 0:
        raise ConfigError(
            f"{key} must not be negative, got {value!r}: it bounds the size of a change; "
            f"use {'max_decrease' if key == 'max_increase' else 'max_increase'} for the "
            "other direction",
            file=file,
            key_path=where,
        )
    if ratio and number > 1:
        raise ConfigError(
            f"{key} of {value!r} is more than a rate can change (rates are 0..1)",
            file=file,
            key_path=where,
            hint=f'write a share such as 0.01, or a relative change such as "{value:g}%"',
        )
    return Delta(number, relative=False)


def _parse_metric(
    name: Any, bounds: Any, scope: str, path: str, file: str | None
) -> tuple[Budget, ...]:
    where = f"{path}.{name}"
    if not isinstance(name, str) or name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}",
            file=file,
            key_path=where,
            hint=_did_you_mean(str(name), [*METRICS, *SCOPE_KEYS])
            or "valid metrics: " + ", ".join(METRICS),
        )
    mdef = METRICS[name]
    if not isinstance(bounds, Mapping) or not bounds:
        raise ConfigError(
            f"expected a mapping of bounds like {_EXAMPLE}, got {bounds!r}",
            file=file,
            key_path=where,
            hint="bounds are: " + ", ".join(BOUND_KEYS),
        )
    parsed: dict[str, float | Delta] = {}
    for key, value in bounds.items():
        if key not in BOUND_KEYS:
            raise ConfigError(
                f"unknown bound {key!r}",
                file=file,
                key_path=f"{where}.{key}",
                hint=_did_you_mean(str(key), BOUND_KEYS) or "bounds are: " + ", ".join(BOUND_KEYS),
            )
        if value is None:
            continue
        parsed[key] = _parse_bound(key, value, mdef, where, file)
    if not parsed:
        raise ConfigError(
            f"no bounds set: give at least one of {', '.join(BOUND_KEYS)}",
            file=file,
            key_path=where,
        )
    hi, lo = parsed.get("max"), parsed.get("min")
    if isinstance(hi, float) and isinstance(lo, float) and lo > hi:
        raise ConfigError(
            f"min ({lo:g}) is above max ({hi:g}): no value can satisfy both",
            file=file,
            key_path=where,
        )
    inc, dec = parsed.get("max_increase"), parsed.get("max_decrease")
    return (
        Budget(
            metric=name,
            max=hi if isinstance(hi, float) else None,
            min=lo if isinstance(lo, float) else None,
            max_increase=inc if isinstance(inc, Delta) else None,
            max_decrease=dec if isinstance(dec, Delta) else None,
            scope=scope,
        ),
    )


def _parse_block(raw: Mapping[str, Any], scope: str, path: str, file: str | None) -> list[Budget]:
    budgets: list[Budget] = []
    for name, bounds in raw.items():
        budgets.extend(_parse_metric(name, bounds, scope, path, file))
    return budgets


def parse_budgets(raw: Mapping[str, Any], *, file: str | None = None) -> tuple[Budget, ...]:
    """Parse the ``budgets`` mapping; every mistake is one ConfigError with its key path."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"expected a mapping of metric names to bounds, got {raw!r}",
            file=file,
            key_path="budgets",
        )
    budgets: list[Budget] = []
    top = {k: v for k, v in raw.items() if k not in SCOPE_KEYS}
    budgets.extend(_parse_block(top, "all", "budgets", file))
    for scope_key, prefix in (("by_set", "set"), ("by_tag", "tag")):
        groups = raw.get(scope_key)
        if groups is None:
            continue
        path = f"budgets.{scope_key}"
        if not isinstance(groups, Mapping):
            raise ConfigError(
                f"expected a mapping of {prefix} names to budgets, got {groups!r}",
                file=file,
                key_path=path,
            )
        for group, block in groups.items():
            if not isinstance(group, str) or not group:
                raise ConfigError(
                    f"expected a {prefix} name, got {group!r}", file=file, key_path=path
                )
            if not isinstance(block, Mapping) or not block:
                raise ConfigError(
                    f"expected a mapping of metric names to bounds, got {block!r}",
                    file=file,
                    key_path=f"{path}.{group}",
                )
            budgets.extend(_parse_block(block, f"{prefix}:{group}", f"{path}.{group}", file))
    return tuple(budgets)
