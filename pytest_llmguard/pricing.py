"""Cost of a call from its token usage: a dated built-in price table, overridable in config.

Prices are USD per million tokens. A model missing from both the config's ``pricing``
and the built-in table has an *unknown* cost (None), never $0: a gate must not think a
model became free because its name changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pytest_llmguard.config import Price

PRICES_AS_OF = "2026-11-01"

# Public list prices (USD / 1M tokens). Keys match a model name exactly or as the
# longest prefix (dated snapshots such as gpt-4o-mini-2024-07-18 match gpt-4o-mini).
BUILTIN_PRICES: Mapping[str, Price] = {
    "gpt-4o-mini": Price(input=0.15, output=0.60, cached_input=0.075),
    "gpt-4o": Price(input=2.50, output=10.00, cached_input=1.25),
    "gpt-4.1-nano": Price(input=0.10, output=0.40, cached_input=0.025),
    "gpt-4.1-mini": Price(input=0.40, output=1.60, cached_input=0.10),
    "gpt-4.1": Price(input=2.00, output=8.00, cached_input=0.50),
    "gpt-5-nano": Price(input=0.05, output=0.40, cached_input=0.005),
    "gpt-5-mini": Price(input=0.25, output=2.00, cached_input=0.025),
    "gpt-5": Price(input=1.25, output=10.00, cached_input=0.125),
    "o3-mini": Price(input=1.10, output=4.40, cached_input=0.55),
    "o4-mini": Price(input=1.10, output=4.40, cached_input=0.275),
    "o3": Price(input=2.00, output=8.00, cached_input=0.50),
    # Anthropic (as of 2025-11-25, platform.claude.com pricing): cache reads at 0.1x the
    # input price, cache writes (5-minute TTL, the default) at 1.25x.
    "claude-3-haiku": Price(input=0.25, output=1.25, cached_input=0.03, cache_write=0.30),
    "claude-3-5-haiku": Price(input=0.80, output=4.00, cached_input=0.08, cache_write=1.00),
    "claude-haiku-4-5": Price(input=1.00, output=5.00, cached_input=0.10, cache_write=1.25),
    "claude-3-5-sonnet": Price(input=3.00, output=15.00, cached_input=0.30, cache_write=3.75),
    "claude-3-7-sonnet": Price(input=3.00, output=15.00, cached_input=0.30, cache_write=3.75),
    "claude-sonnet-4": Price(input=3.00, output=15.00, cached_input=0.30, cache_write=3.75),
    "claude-opus-4": Price(input=15.00, output=75.00, cached_input=1.50, cache_write=18.75),
    "claude-opus-4-5": Price(input=5.00, output=25.00, cached_input=0.50, cache_write=6.25),
    "claude-opus-4-6": Price(input=5.00, output=25.00, cached_input=0.50, cache_write=6.25),
    # The simulator's versions are priced like a small hosted model so the quick start
    # shows real cost arithmetic.
    "sim-": Price(input=0.15, output=0.60, cached_input=0.075),
}


def find_price(model: str, overrides: Mapping[str, Price]) -> Price | None:
    """The price for ``model``: config overrides first, then the built-in table."""
    for table in (overrides, BUILTIN_PRICES):
        if model in table:
            return table[model]
        best = max((k for k in table if model.startswith(k)), key=len, default=None)
        if best is not None:
            return table[best]
    return None


def cost_usd(
    price: Price | None,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = None,
    cache_write_tokens: int | None = None,
) -> float | None:
    """USD cost of one call, or None when the price or the usage is unknown.

    ``input_tokens`` includes the cache reads (``cached_tokens``) and writes
    (``cache_write_tokens``); each share is billed at its own price.
    """
    if price is None or input_tokens is None or output_tokens is None:
        return None
    cached = min(cached_tokens or 0, input_tokens)
    written = min(cache_write_tokens or 0, input_tokens - cached)
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    write_rate = price.cache_write if price.cache_write is not None else price.input
    try:
        cost = (
            (input_tokens - cached - written) * price.input
            + cached * cached_rate
            + written * write_rate
            + output_tokens * price.output
        ) / 1_000_000
    except OverflowError:  # counts beyond any float: no cost can be told
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None
