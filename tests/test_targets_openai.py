"""The OpenAI-compatible client against the real simulator: every fault is classified,
retried only when the policy says, and never escapes the run."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping

import httpx
import pytest

from pytest_llmguard.config import RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.records import Case, Message, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.openai import OpenAIClient, parse_completion
from tests.conftest import SimLog
from tests.single_calls import POLICY, assert_classified, fault_ids, observe_one

CASE = Case(
    "s", "s.yaml", "c1", (Message("user", "What is the refund window?"),), params={"max_tokens": 50}
)


def observe(
    base_url: str,
    headers: Mapping[str, str] = {},
    *,
    stream: bool = False,
    timeout_s: float = 2.0,
    policy: RetryPolicy = POLICY,
    api_key: str | None = None,
) -> Observation:
    target = TargetConfig("t", "openai", "sim-stable", headers=dict(headers), stream=stream)
    client = OpenAIClient(
        target, base_url=base_url, api_key=api_key, timeout_s=timeout_s, max_connections=4
    )
    return observe_one(client, CASE, timeout_s=timeout_s, policy=policy)


FAULTS = [
    # header fault, extra headers, stream, class, status, retried?
    ("rate_limit", {"x-sim-retry-after": "0"}, False, "rate_limit", 429, True),
    ("quota_exhausted", {}, False, "client_error", 429, False),
    ("server_error", {"x-sim-status": "500"}, False, "server_error", 500, True),
    ("server_error", {"x-sim-status": "502"}, False, "server_error", 502, True),
    ("server_error", {"x-sim-status": "503"}, False, "server_error", 503, True),
    ("server_error", {"x-sim-status": "504"}, False, "server_error", 504, True),
    ("client_error", {"x-sim-status": "400"}, False, "client_error", 400, False),
    ("client_error", {"x-sim-status": "401"}, False, "client_error", 401, False),
    ("client_error", {"x-sim-status": "403"}, False, "client_error", 403, False),
    ("client_error", {"x-sim-status": "404"}, False, "client_error", 404, False),
    ("malformed", {}, False, "invalid_response", None, False),
    ("wrong_shape", {}, False, "invalid_response", None, False),
    ("empty_choices", {}, False, "invalid_response", None, False),
    ("non_utf8", {}, False, "invalid_response", None, False),
    ("huge", {}, False, "invalid_response", None, False),
    ("truncated", {}, False, "connection", None, True),
    ("reset", {}, False, "connection", None, True),
    ("truncated", {}, True, "connection", None, True),
    ("no_done", {}, True, "invalid_response", None, False),
    ("malformed", {}, True, "invalid_response", None, False),
    ("interrupted", {}, True, "invalid_response", None, False),
]


@pytest.mark.parametrize(
    ("fault", "extra", "stream", "cls", "status", "retried"),
    FAULTS,
    ids=fault_ids(FAULTS),
)
def test_fault_is_classified_and_retried_by_policy(
    sim_url: str,
    sim_log: SimLog,
    fault: str,
    extra: dict[str, str],
    stream: bool,
    cls: str,
    status: int | None,
    retried: bool,
) -> None:
    obs = observe(sim_url, {"x-sim-fault": fault, **extra}, stream=stream)
    assert_classified(obs, len(sim_log.requests()), cls, status, retried)


@pytest.mark.parametrize("fault", ["timeout", "slow_trickle"])
def test_waits_are_bounded_by_the_timeout(sim_url: str, fault: str) -> None:
    obs = observe(sim_url, {"x-sim-fault": fault}, timeout_s=0.3, policy=RetryPolicy(max=0))
    assert obs.error is not None and obs.error.cls == "timeout"


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        obs = observe(f"http://127.0.0.1:{port}/v1", policy=RetryPolicy(max=1, backoff_base_s=0.01))
    assert obs.error is not None and obs.error.cls == "connection"
    assert obs.attempts == 2


@pytest.mark.parametrize("fault", ["rate_limit", "server_error", "reset"])
def test_retry_after_a_transient_fault_succeeds(sim_url: str, sim_log: SimLog, fault: str) -> None:
    obs = observe(sim_url, {"x-sim-fault-once": fault, "x-sim-retry-after": "0"})
    assert obs.error is None and obs.output
    assert obs.attempts == 2 and len(sim_log.requests()) == 2


def test_retry_after_http_date_is_honoured(sim_url: str, sim_log: SimLog) -> None:
    obs = observe(
        sim_url,
        {"x-sim-fault-once": "rate_limit", "x-sim-retry-after": "1", "x-sim-retry-after-date": "1"},
    )
    assert obs.error is None and obs.attempts == 2
    first, second = sim_log.requests()
    assert float(second["t"]) - float(first["t"]) >= 0.0  # waited, and did not give up


def test_error_messages_never_contain_the_key(sim_url: str) -> None:
    key = "sk-test-DistinctiveFakeKey0123456789"
    obs = observe(sim_url, {"x-sim-fault": "client_error", "x-sim-status": "401"}, api_key=key)
    assert obs.error is not None
    assert key not in obs.error.message


def test_streaming_gives_ttft_and_same_text_as_non_streaming(sim_url: str) -> None:
    plain = observe(sim_url)
    streamed = observe(sim_url, stream=True)
    assert streamed.output == plain.output
    assert streamed.ttft_ms is not None and streamed.latency_ms is not None
    assert 0 < streamed.ttft_ms <= streamed.latency_ms
    assert streamed.output_tokens == plain.output_tokens


def test_parse_completion_reads_cached_and_reasoning_tokens() -> None:
    # A unit test of one pure function: MockTransport-free, plain bytes in.
    body = httpx.Response(
        200,
        json={
            "model": "gpt-x-2025",
            "choices": [
                {"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
        },
    ).content
    c = parse_completion(body, "gpt-x")
    assert (
        c.output,
        c.model,
        c.input_tokens,
        c.output_tokens,
        c.cached_tokens,
        c.reasoning_tokens,
    ) == ("hi", "gpt-x-2025", 100, 20, 64, 12)


def test_a_429_pauses_new_attempts_to_that_target(sim_url: str, sim_log: SimLog) -> None:
    headers = {"x-sim-fault": "rate_limit", "x-sim-retry-after": "0.3"}
    target = TargetConfig("t", "openai", "sim-stable", headers=headers)
    client = OpenAIClient(target, base_url=sim_url, api_key=None, timeout_s=2, max_connections=4)
    engine = Engine({"t": client}, RunConfig(concurrency=2, retries=RetryPolicy(max=0)))
    cases = [Case("s", "s.yaml", f"c{i}", (Message("user", f"question {i}"),)) for i in range(6)]
    observations = asyncio.run(engine.run([CallUnit(c, "t") for c in cases]))
    assert {o.error.cls for o in observations if o.error} == {"rate_limit"}
    times = sorted(float(str(r["t"])) for r in sim_log.requests())
    assert len(times) == 6
    # two calls in flight at a time; every later call waited out a Retry-After pause
    assert all(times[i] - times[i - 2] >= 0.25 for i in range(2, 6)), times


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_latency_is_timed_on_the_wire_and_covers_the_server_delay(
    sim_url: str, stream: bool
) -> None:
    """The connection stamps the request's write and the reply's arrival (aiohttp hooks).

    No timing claim beyond a lower bound: whatever the machine does, the recorded latency
    includes the 80 ms the server waits, and TTFT lies within it.
    """
    obs = observe(sim_url, {"x-sim-latency-ms": "80"}, stream=stream)
    assert obs.error is None and obs.latency_ms is not None
    assert obs.latency_ms >= 80.0
    if stream:
        assert obs.ttft_ms is not None and obs.ttft_ms <= obs.latency_ms


def test_connections_stamp_writes_and_reads() -> None:
    """If an aiohttp release moves its protocol factory, this fails instead of silently
    timing on the coroutine side (which counts connection set-up and scheduling)."""
    from pytest_llmguard.targets.wire import timed_connector

    async def make() -> str:
        connector = timed_connector(4)
        try:
            return str(connector._factory.func.__name__)
        finally:
            await connector.close()

    assert asyncio.run(make()) == "TimedResponseHandler"


def test_a_lone_surrogate_in_the_output_becomes_a_replacement_character() -> None:
    """JSON can carry "\\ud800" alone; such a str cannot be written as UTF-8 later."""
    body = b'{"choices":[{"message":{"content":"Reset \\ud800 now \\ud83d\\ude00"}}]}'
    completion = parse_completion(body, "m")
    assert completion.output == "Reset \ufffd now \U0001f600"
    completion.output.encode("utf-8")
