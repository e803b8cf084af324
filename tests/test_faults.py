from __future__ import annotations

import asyncio
import random
from email.utils import formatdate

import aiohttp
import pytest

from pytest_llmguard.config import RetryPolicy
from pytest_llmguard.faults import class_for_status, classify_exception, parse_retry_after, scrub
from pytest_llmguard.records import ErrorRecord
from pytest_llmguard.retry import MAX_RETRY_WAIT_S, backoff_s, should_retry


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (429, "rate_limit"),
        (408, "timeout"),
        (500, "server_error"),
        (503, "server_error"),
        (400, "client_error"),
        (401, "client_error"),
        (404, "client_error"),
    ],
)
def test_status_classes(status: int, cls: str) -> None:
    assert class_for_status(status) == cls


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_exceptions_are_classified() -> None:
    assert classify_exception(asyncio.TimeoutError()).record.cls == "timeout"
    assert classify_exception(aiohttp.ServerDisconnectedError()).record.cls == "connection"
    assert classify_exception(ConnectionResetError("reset")).record.cls == "connection"
    assert classify_exception(ValueError("bad")).record.cls == "invalid_response"


def test_scrub_removes_keys_and_bounds_length() -> None:
    secret = "sk-proj-" + "A1b2C3d4" * 4
    msg = scrub(f"invalid key {secret} for Bearer abcdefghijklmnop " + "x" * 1000, (secret,))
    assert secret not in msg
    assert "abcdefghijklmnop" not in msg
    assert len(msg) <= 300


def test_retry_policy_respects_classes_and_max() -> None:
    policy = RetryPolicy(max=2, on=("rate_limit",))
    err = ErrorRecord("rate_limit", "slow down", 429)
    assert should_retry(policy, err, 1) and should_retry(policy, err, 2)
    assert not should_retry(policy, err, 3)
    assert not should_retry(policy, ErrorRecord("client_error", "bad", 400), 1)


def test_backoff_honours_retry_after_and_is_bounded() -> None:
    rng = random.Random(1)
    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=4.0)
    waits = [backoff_s(policy, a, None, rng) for a in range(1, 8)]
    assert all(0 <= w <= 4.0 for w in waits)
    assert backoff_s(policy, 1, 9.0, rng) == 9.0
    assert backoff_s(policy, 1, 10_000.0, rng) == MAX_RETRY_WAIT_S
    no_respect = RetryPolicy(respect_retry_after=False, backoff_max_s=1.0)
    assert backoff_s(no_respect, 1, 9.0, rng) <= 1.0
