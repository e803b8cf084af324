"""Retry policy: which faults are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import random

from pytest_llmguard.config import RetryPolicy
from pytest_llmguard.records import ErrorRecord

# Never wait longer than this for one retry, whatever a server's Retry-After says:
# every wait in a run is bounded.
MAX_RETRY_WAIT_S = 120.0


def should_retry(policy: RetryPolicy, error: ErrorRecord, attempts_done: int) -> bool:
    """True when ``error`` is retryable by ``policy`` and attempts remain."""
    return error.cls in policy.on and attempts_done <= policy.max


def backoff_s(
    policy: RetryPolicy,
    attempts_done: int,
    retry_after_s: float | None,
    rng: random.Random,
) -> float:
    """Seconds to wait before attempt ``attempts_done + 1``.

    Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
    And Jitter"): spreads retries of many concurrent calls instead of synchronising
    them. A server's Retry-After is a floor when the policy respects it.
    """
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * (2 ** (attempts_done - 1)))
    wait = rng.uniform(0, ceiling)
    if policy.respect_retry_after and retry_after_s is not None:
        wait = max(wait, retry_after_s)
    return min(wait, MAX_RETRY_WAIT_S)
