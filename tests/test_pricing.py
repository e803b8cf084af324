from __future__ import annotations

import pytest

from pytest_llmguard.config import Price
from pytest_llmguard.pricing import cost_usd, find_price


def test_dated_snapshot_matches_longest_prefix() -> None:
    price = find_price("gpt-4o-mini-2024-07-18", {})
    assert price == Price(input=0.15, output=0.60, cached_input=0.075)


def test_config_override_beats_builtin() -> None:
    override = {"gpt-4o-mini-2024-07-18": Price(input=1.0, output=2.0)}
    assert find_price("gpt-4o-mini-2024-07-18", override) == Price(input=1.0, output=2.0)


def test_unknown_model_has_unknown_cost_not_zero() -> None:
    assert find_price("my-finetune-7b", {}) is None
    assert cost_usd(None, 100, 100) is None


def test_cost_arithmetic_with_cached_tokens() -> None:
    price = Price(input=2.0, output=8.0, cached_input=0.5)
    # 1000 input of which 400 cached, 500 output
    expected = (600 * 2.0 + 400 * 0.5 + 500 * 8.0) / 1_000_000
    assert cost_usd(price, 1000, 500, 400) == pytest.approx(expected)


def test_missing_usage_means_unknown_cost() -> None:
    assert cost_usd(Price(1.0, 1.0), None, 10) is None
