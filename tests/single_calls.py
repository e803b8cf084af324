"""One case through the engine against one client, and the check of one fault row that
the client tests (anthropic, http) share with tests/test_targets_openai.py."""

from __future__ import annotations

import asyncio
from typing import Any

from pytest_llmguard.config import RetryPolicy, RunConfig
from pytest_llmguard.records import Case, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.base import TargetClient

POLICY = RetryPolicy(max=2, backoff_base_s=0.01, backoff_max_s=0.05)
# header fault, extra headers, stream, class, status, retried?
FaultRow = tuple[str, dict[str, str], bool, str, "int | None", bool]

# The rows every client's matrix holds (the Chat Completions and Messages routes alike).
COMMON_FAULTS: list[FaultRow] = [
    ("rate_limit", {"x-sim-retry-after": "0"}, False, "rate_limit", 429, True),
    ("rate_limit", {"x-sim-no-retry-after": "1"}, False, "rate_limit", 429, True),
    ("server_error", {"x-sim-status": "500"}, False, "server_error", 500, True),
    ("server_error", {"x-sim-status": "503"}, False, "server_error", 503, True),
    ("client_error", {"x-sim-status": "400"}, False, "client_error", 400, False),
    ("client_error", {"x-sim-status": "401"}, False, "client_error", 401, False),
    ("malformed", {}, False, "invalid_response", None, False),
    ("malformed", {}, True, "invalid_response", None, False),
    ("wrong_shape", {}, False, "invalid_response", None, False),
    ("non_utf8", {}, False, "invalid_response", None, False),
    ("non_utf8", {}, True, "invalid_response", None, False),
    ("huge", {}, False, "invalid_response", None, False),
    ("huge", {}, True, "invalid_response", None, False),
    ("truncated", {}, False, "connection", None, True),
    ("truncated", {}, True, "connection", None, True),
    ("reset", {}, False, "connection", None, True),
    ("reset", {}, True, "connection", None, True),
    ("no_done", {}, True, "invalid_response", None, False),
]


def observe_one(
    client: TargetClient, case: Case, *, timeout_s: float = 5.0, policy: RetryPolicy = POLICY
) -> Observation:
    engine = Engine({"t": client}, RunConfig(concurrency=1, timeout_s=timeout_s, retries=policy))
    (obs,) = asyncio.run(engine.run([CallUnit(case, "t")]))
    return obs


def fault_ids(rows: list[Any]) -> list[str]:
    return [
        f"{r[0]}-{r[1].get('x-sim-status', '')}{'-stream' if r[2] else ''}"
        + ("-no-retry-after" if "x-sim-no-retry-after" in r[1] else "")
        for r in rows
    ]


def assert_classified(
    obs: Observation, requests_seen: int, cls: str, status: int | None, retried: bool
) -> None:
    """The call failed with ``cls``/``status`` after the attempts the policy allows."""
    assert obs.error is not None, obs
    assert obs.error.cls == cls, obs.error
    assert obs.error.status == status
    assert obs.output is None and obs.latency_ms is None
    expected_attempts = POLICY.max + 1 if retried else 1
    assert obs.attempts == expected_attempts
    assert requests_seen == expected_attempts
