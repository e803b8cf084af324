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


def test_cache_writes_and_reads_are_billed_at_their_own_prices() -> None:
    price = Price(input=3.0, output=15.0, cached_input=0.30, cache_write=3.75)
    # 1000 input tokens: 200 read from the cache, 300 written to it, 500 plain
    expected = (500 * 3.0 + 200 * 0.30 + 300 * 3.75 + 100 * 15.0) / 1_000_000
    assert cost_usd(price, 1000, 100, 200, 300) == pytest.approx(expected)
    # without a write price, writes cost what input costs
    assert cost_usd(Price(3.0, 15.0), 1000, 0, 0, 300) == pytest.approx(3000 / 1_000_000)
    # shares never exceed the input they are part of
    assert cost_usd(price, 100, 0, 80, 80) == pytest.approx((80 * 0.30 + 20 * 3.75) / 1e6)


@pytest.mark.parametrize(
    ("model", "price"),
    [
        ("claude-opus-4-5-20251101", Price(5.0, 25.0, 0.50, 6.25)),
        ("claude-opus-4-1-20250805", Price(15.0, 75.0, 1.50, 18.75)),
        ("claude-sonnet-4-5-20250929", Price(3.0, 15.0, 0.30, 3.75)),
        ("claude-haiku-4-5-20251001", Price(1.0, 5.0, 0.10, 1.25)),
        ("claude-3-5-haiku-20241022", Price(0.80, 4.0, 0.08, 1.0)),
    ],
)
def test_anthropic_models_have_cache_read_and_write_prices(model: str, price: Price) -> None:
    assert find_price(model, {}) == price
