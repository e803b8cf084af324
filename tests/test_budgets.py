"""Tests for budgets.py: the DESIGN.md shape, scopes, and one clear error per mistake."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmguard.budgets import Budget, Delta, scopes_of
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.records import Case, Message

DESIGN_BUDGETS: dict[str, Any] = {
    "latency_p95_ms": {"max": 4000, "max_increase": "15%"},
    "cost_per_response_usd": {"max_increase": "10%"},
    "error_rate": {"max": 0.02, "max_increase": 0.01},
    "similarity_mean": {"min": 0.80, "max_decrease": 0.03},
    "check_pass_rate": {"min": 0.95},
}


def test_parses_the_design_example() -> None:
    budgets = {b.metric: b for b in parse_budgets(DESIGN_BUDGETS)}
    assert budgets["latency_p95_ms"] == Budget(
        "latency_p95_ms", max=4000.0, max_increase=Delta(0.15, relative=True)
    )
    assert budgets["cost_per_response_usd"].max_increase == Delta(0.10, relative=True)
    assert budgets["error_rate"].max_increase == Delta(0.01, relative=False)
    assert budgets["similarity_mean"].min == 0.80
    assert budgets["similarity_mean"].max_decrease == Delta(0.03, relative=False)
    assert budgets["check_pass_rate"].absolute and not budgets["check_pass_rate"].relative
    assert all(b.scope == "all" for b in budgets.values())


def test_scoped_budgets() -> None:
    raw = {
        "latency_p95_ms": {"max": 4000},
        "by_set": {"support": {"similarity_mean": {"min": 0.85}}},
        "by_tag": {"billing": {"check_pass_rate": {"min": "99%"}}},
    }
    budgets = parse_budgets(raw)
    assert [(b.metric, b.scope) for b in budgets] == [
        ("latency_p95_ms", "all"),
        ("similarity_mean", "set:support"),
        ("check_pass_rate", "tag:billing"),
    ]
    assert budgets[2].min == pytest.approx(0.99)


def test_budget_dict_round_trip() -> None:
    for budget in parse_budgets(DESIGN_BUDGETS):
        assert Budget.from_dict(budget.to_dict()) == budget
    assert parse_budgets(DESIGN_BUDGETS)[0].to_dict()["max_increase"] == "15%"


def test_scopes_of_case() -> None:
    case = Case(
        "support", "golden_sets/support.yaml", "x", (Message("user", "hi"),), tags=("billing",)
    )
    assert scopes_of(case) == {"set:support", "tag:billing"}


def _error(raw: Any, file: str | None = "llmguard.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_budgets(raw, file=file)
    return info.value


def test_unknown_metric_suggests_the_closest_name() -> None:
    err = _error({"latency_p59_ms": {"max": 1}})
    assert err.key_path == "budgets.latency_p59_ms"
    assert err.file == "llmguard.yaml"
    assert err.hint == ("did you mean 'latency_p50_ms', 'latency_p95_ms' or 'latency_p99_ms'?")
    assert "llmguard.yaml: budgets.latency_p59_ms: unknown metric" in str(err)


def test_unknown_metric_in_a_scope_has_the_full_key_path() -> None:
    err = _error({"by_set": {"support": {"similarty_mean": {"min": 0.8}}}})
    assert err.key_path == "budgets.by_set.support.similarty_mean"
    assert err.hint == "did you mean 'similarity_mean'?"


def test_far_off_metric_lists_the_valid_ones() -> None:
    err = _error({"zzz": {"max": 1}})
    assert err.hint is not None and err.hint.startswith("valid metrics: latency_p50_ms")


def test_misspelt_scope_key_is_suggested() -> None:
    err = _error({"by_sets": {"support": {}}})
    assert err.hint == "did you mean 'by_set'?"


def test_unknown_bound_key() -> None:
    err = _error({"latency_p95_ms": {"max_increse": "15%"}})
    assert err.key_path == "budgets.latency_p95_ms.max_increse"
    assert err.hint == "did you mean 'max_increase'?"


@pytest.mark.parametrize(
    ("raw", "path", "words"),
    [
        ({"latency_p95_ms": {"min": 500, "max": 400}}, "budgets.latency_p95_ms", "above max"),
        (
            {"latency_p95_ms": {"max_increase": "-15%"}},
            "budgets.latency_p95_ms.max_increase",
            "negative",
        ),
        (
            {"latency_p95_ms": {"max_increase": -3}},
            "budgets.latency_p95_ms.max_increase",
            "max_decrease",
        ),
        (
            {"latency_p95_ms": {"max_increase": "fast"}},
            "budgets.latency_p95_ms.max_increase",
            '"15%"',
        ),
        ({"latency_p95_ms": {"max": "4s"}}, "budgets.latency_p95_ms.max", "a number"),
        ({"latency_p95_ms": {"max": True}}, "budgets.latency_p95_ms.max", "a number"),
        ({"latency_p95_ms": {"max": -1}}, "budgets.latency_p95_ms.max", "at least 0"),
        ({"error_rate": {"max": 2}}, "budgets.error_rate.max", "between 0 and 1"),
        ({"error_rate": {"max_increase": 5}}, "budgets.error_rate.max_increase", "0..1"),
        ({"error_rate": {}}, "budgets.error_rate", "mapping of bounds"),
        ({"error_rate": 0.02}, "budgets.error_rate", "mapping of bounds"),
        ({"error_rate": {"max": None}}, "budgets.error_rate", "no bounds"),
        ({"by_tag": ["billing"]}, "budgets.by_tag", "tag names"),
        ({"by_tag": {"billing": None}}, "budgets.by_tag.billing", "metric names"),
    ],
)
def test_impossible_or_malformed_budgets(raw: Any, path: str, words: str) -> None:
    err = _error(raw)
    assert err.key_path == path
    assert words in str(err)


def test_rate_bounds_accept_percentages() -> None:
    (budget,) = parse_budgets({"error_rate": {"max": "2%", "max_increase": "50%"}})
    assert budget.max == pytest.approx(0.02)
    assert budget.max_increase == Delta(0.5, relative=True)


def test_percent_max_on_a_non_rate_is_rejected() -> None:
    err = _error({"latency_p95_ms": {"max": "10%"}})
    assert "a number (ms)" in str(err)


def test_delta_limit() -> None:
    assert Delta(0.15, relative=True).limit(-200.0) == pytest.approx(30.0)
    assert Delta(5.0, relative=False).limit(200.0) == 5.0
