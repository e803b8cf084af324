"""The Anthropic Messages client against the simulator's /v1/messages: the wire format
(headers, system prompt, content blocks, max_tokens, usage, stop reasons, streaming),
and every fault classified and retried as the OpenAI client's are."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Mapping
from typing import Any

import pytest

from pytest_llmguard.config import RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.pricing import find_price
from pytest_llmguard.records import Case, Message, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.sim.server import SimServer
from pytest_llmguard.targets.anthropic import (
    AnthropicClient,
    messages_url,
    parse_message,
    split_messages,
)
from tests.conftest import SimLog
from tests.single_calls import (
    COMMON_FAULTS,
    POLICY,
    FaultRow,
    assert_classified,
    fault_ids,
    observe_one,
)

KEY = "sk-ant-test-DistinctiveFakeKey0123456789"
QUESTION = "How long do I have to ask for a refund?"
CASE = Case(
    "s",
    "s.yaml",
    "c1",
    (Message("system", "You are Acme's support assistant."), Message("user", QUESTION)),
    params={"max_tokens": 50},
)


def client(
    base_url: str,
    headers: Mapping[str, str] = {},
    *,
    stream: bool = False,
    timeout_s: float = 5.0,
    api_key: str | None = KEY,
    model: str = "sim-stable",
    **extra: Any,
) -> AnthropicClient:
    target = TargetConfig(
        "t", "anthropic", model, headers=dict(headers), stream=stream, extra=extra
    )
    return AnthropicClient(
        target, base_url=base_url, api_key=api_key, timeout_s=timeout_s, max_connections=4
    )


def observe(
    base_url: str,
    headers: Mapping[str, str] = {},
    *,
    stream: bool = False,
    timeout_s: float = 5.0,
    policy: RetryPolicy = POLICY,
    case: Case = CASE,
    **extra: Any,
) -> Observation:
    c = client(base_url, headers, stream=stream, timeout_s=timeout_s, **extra)
    return observe_one(c, case, timeout_s=timeout_s, policy=policy)


# ---- the wire format -------------------------------------------------------------------


def test_the_request_is_a_messages_request() -> None:
    c = client("http://127.0.0.1:1/v1", model="claude-haiku-4-5", cache_system=True)
    case = Case(
        "s",
        "s.yaml",
        "c",
        (
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("user", "Still there?"),
            Message("assistant", "Yes."),
            Message("user", "Bye"),
        ),
        params={"temperature": 0, "max_completion_tokens": 30},
    )
    body = c.request_body(case)
    assert body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 30,
        "temperature": 0,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "text", "text": "Still there?"},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Yes."}]},
            {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
        ],
    }
    assert c.headers["anthropic-version"] == "2023-06-01"
    assert c.headers["x-api-key"] == KEY
    assert "authorization" not in c.headers
    # the key never enters the cache key
    assert KEY not in json.dumps(c.request_identity(case))


def test_max_tokens_is_always_sent_and_the_version_is_configurable() -> None:
    c = client("https://api.anthropic.com", anthropic_version="2024-01-01")
    case = Case("s", "s.yaml", "c", (Message("user", "Hi"),))
    assert c.request_body(case)["max_tokens"] == 1024
    assert "system" not in c.request_body(case)
    assert c.headers["anthropic-version"] == "2024-01-01"
    assert c.request_identity(case)["url"] == "https://api.anthropic.com/v1/messages"


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1/messages"),
        ("http://127.0.0.1:8400/v1", "http://127.0.0.1:8400/v1/messages"),
        ("https://gw.example/anthropic/v1/", "https://gw.example/anthropic/v1/messages"),
    ],
)
def test_the_messages_url_takes_either_style_of_base_url(base: str, url: str) -> None:
    assert messages_url(base) == url


def test_split_messages_keeps_roles_and_joins_system_messages() -> None:
    system, turns = split_messages(
        (Message("system", "A"), Message("developer", "B"), Message("user", "q"))
    )
    assert system == "A\n\nB"
    assert turns == [{"role": "user", "content": [{"type": "text", "text": "q"}]}]


def test_a_plain_answer_reads_text_usage_and_stop_reason(sim_url: str, sim_log: SimLog) -> None:
    obs = observe(sim_url)
    assert obs.error is None, obs.error
    assert obs.output == "You can ask for a refund within 30 days of purchase."
    assert obs.finish_reason == "end_turn"
    assert obs.input_tokens and obs.output_tokens
    assert obs.cached_tokens == 0 and obs.cache_write_tokens == 0
    (row,) = sim_log.requests()
    assert row["path"] == "/v1/messages" and row["status"] == 200


def test_the_same_case_gets_the_same_answer_through_either_api(sim_url: str) -> None:
    from pytest_llmguard.targets.openai import OpenAIClient

    target = TargetConfig("t", "openai", "sim-drifted")  # a version that changes answers
    openai = OpenAIClient(target, base_url=sim_url, api_key=None, timeout_s=2, max_connections=1)
    engine = Engine({"t": openai}, RunConfig(concurrency=1))
    (chat,) = asyncio.run(engine.run([CallUnit(CASE, "t")]))
    messages = observe(sim_url, model="sim-drifted")
    assert chat.error is None and messages.error is None
    assert messages.output == chat.output != "You can ask for a refund within 30 days of purchase."
    assert (messages.input_tokens, messages.output_tokens) == (
        chat.input_tokens,
        chat.output_tokens,
    )


def test_streaming_gives_ttft_before_the_end_and_cumulative_usage(sim_url: str) -> None:
    plain = observe(sim_url, {"x-sim-latency-ms": "80"})
    streamed = observe(sim_url, {"x-sim-latency-ms": "80"}, stream=True)
    assert streamed.error is None, streamed.error
    assert streamed.output == plain.output
    assert streamed.finish_reason == "end_turn"
    # message_start said output_tokens 1; message_delta's cumulative count wins
    assert streamed.output_tokens == plain.output_tokens > 1
    assert streamed.input_tokens == plain.input_tokens
    assert streamed.latency_ms is not None and streamed.latency_ms >= 80.0
    # message_start arrives at once; time to first token is the first text delta (at 30%)
    assert streamed.ttft_ms is not None and 20.0 <= streamed.ttft_ms < streamed.latency_ms


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_prompt_cache_writes_then_reads_and_input_includes_both(stream: bool) -> None:
    long_system = "You are Acme's support assistant. " * 30
    case = Case("s", "s.yaml", "cache", (Message("system", long_system), Message("user", QUESTION)))
    with SimServer(seed=1, latency_scale=0.01) as url:
        first = observe(url, case=case, stream=stream, cache_system=True)
        second = observe(url, case=case, stream=stream, cache_system=True)
        uncached = observe(url, case=case, stream=stream)
    assert first.error is None and second.error is None and uncached.error is None
    written = (len(long_system) + 3) // 4
    assert (first.cache_write_tokens, first.cached_tokens) == (written, 0)
    assert (second.cache_write_tokens, second.cached_tokens) == (0, written)
    assert (uncached.cache_write_tokens, uncached.cached_tokens) == (0, 0)
    # OpenTelemetry's way: input counts every input token, cached or not
    assert first.input_tokens == second.input_tokens == uncached.input_tokens


def test_cache_reads_and_writes_are_priced_at_their_own_prices(sim_url: str) -> None:
    long_system = "You are Acme's support assistant. " * 30
    case = Case("s", "s.yaml", "p", (Message("system", long_system), Message("user", "Hi?")))
    price = find_price("claude-sonnet-4-5-20250929", {})
    assert price is not None and price.cache_write == 3.75 and price.cached_input == 0.30
    pricing = {"sim-stable": price}
    with SimServer(seed=2, latency_scale=0.01) as url:
        costs = []
        for _ in range(2):
            c = client(url, cache_system=True)
            engine = Engine({"t": c}, RunConfig(concurrency=1), pricing=pricing)
            (obs,) = asyncio.run(engine.run([CallUnit(case, "t")]))
            costs.append((obs, obs.cost_usd))
    (first, first_cost), (second, second_cost) = costs
    assert first.cache_write_tokens and second.cached_tokens
    plain_in = (first.input_tokens or 0) - (first.cache_write_tokens or 0)
    assert first_cost == pytest.approx(
        (plain_in * 3.0 + first.cache_write_tokens * 3.75 + (first.output_tokens or 0) * 15.0) / 1e6
    )
    assert second_cost == pytest.approx(
        (plain_in * 3.0 + (second.cached_tokens or 0) * 0.30 + (second.output_tokens or 0) * 15.0)
        / 1e6
    )
    assert first_cost is not None and second_cost is not None and second_cost < first_cost


def test_a_refusing_version_reports_the_refusal_stop_reason() -> None:
    from pytest_llmguard.sim.models import SimModel

    refuser = SimModel("sim-refuser", refusal_rate=1.0)
    with SimServer(seed=3, latency_scale=0.01, models={"sim-refuser": refuser}) as url:
        plain = observe(url, model="sim-refuser")
        streamed = observe(url, model="sim-refuser", stream=True)
    assert plain.finish_reason == streamed.finish_reason == "refusal"


def test_parse_message_reads_tool_calls_and_unknown_blocks() -> None:
    body = {
        "type": "message",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"order": 7}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }
    c = parse_message(json.dumps(body).encode(), "claude-x")
    assert json.loads(c.output) == [{"name": "lookup", "input": {"order": 7}}]
    assert (c.finish_reason, c.input_tokens, c.cached_tokens) == ("tool_use", 5, None)


@pytest.mark.parametrize(
    "body",
    [b"[1]", b'{"type": "message"}', b'{"content": ["text"]}', b"{broken"],
    ids=["array", "no-content", "not-blocks", "not-json"],
)
def test_a_bad_body_is_an_invalid_response(body: bytes) -> None:
    with pytest.raises(CallFault) as info:
        parse_message(body, "m")
    assert info.value.record.cls == "invalid_response"


# ---- the fault matrix ------------------------------------------------------------------

FAULTS: list[FaultRow] = [
    *COMMON_FAULTS,
    ("server_error", {"x-sim-status": "504"}, False, "server_error", 504, True),
    ("overloaded", {}, False, "server_error", 529, True),
    ("overloaded", {}, True, "server_error", 529, True),
    ("stream_error", {}, True, "server_error", None, True),
    ("stream_error", {"x-sim-status": "429"}, True, "rate_limit", None, True),
    ("stream_error", {"x-sim-status": "400"}, True, "client_error", None, False),
    ("client_error", {"x-sim-status": "403"}, False, "client_error", 403, False),
    ("client_error", {"x-sim-status": "404"}, False, "client_error", 404, False),
    ("client_error", {"x-sim-status": "413"}, False, "client_error", 413, False),
    ("wrong_shape", {}, True, "invalid_response", None, False),
]


@pytest.mark.parametrize("row", FAULTS, ids=fault_ids(FAULTS))
def test_fault_is_classified_and_retried_by_policy(
    sim_url: str, sim_log: SimLog, row: FaultRow
) -> None:
    fault, extra, stream, cls, status, retried = row
    obs = observe(sim_url, {"x-sim-fault": fault, **extra}, stream=stream)
    assert_classified(obs, len(sim_log.requests()), cls, status, retried)


def test_error_messages_name_the_anthropic_error_type(sim_url: str) -> None:
    obs = observe(sim_url, {"x-sim-fault": "overloaded"}, policy=RetryPolicy(max=0))
    assert obs.error is not None
    assert obs.error.message == "HTTP 529: overloaded_error: Overloaded"
    streamed = observe(
        sim_url, {"x-sim-fault": "stream_error"}, stream=True, policy=RetryPolicy(max=0)
    )
    assert streamed.error is not None
    assert streamed.error.message == "stream error event: overloaded_error: injected"


def test_an_empty_content_list_is_a_valid_empty_answer(sim_url: str) -> None:
    for stream in (False, True):
        obs = observe(sim_url, {"x-sim-fault": "empty_choices"}, stream=stream)
        assert obs.error is None and obs.output == "", obs


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("fault", ["timeout", "slow_trickle"])
def test_waits_are_bounded_by_the_timeout(sim_url: str, fault: str, stream: bool) -> None:
    obs = observe(
        sim_url, {"x-sim-fault": fault}, stream=stream, timeout_s=0.3, policy=RetryPolicy(max=0)
    )
    assert obs.error is not None and obs.error.cls == "timeout"


def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        obs = observe(f"http://127.0.0.1:{port}", policy=RetryPolicy(max=1, backoff_base_s=0.01))
    assert obs.error is not None and obs.error.cls == "connection"
    assert obs.attempts == 2


@pytest.mark.parametrize("fault", ["rate_limit", "overloaded", "stream_error", "reset"])
def test_retry_after_a_transient_fault_succeeds(sim_url: str, sim_log: SimLog, fault: str) -> None:
    obs = observe(sim_url, {"x-sim-fault-once": fault, "x-sim-retry-after": "0"}, stream=True)
    assert obs.error is None and obs.output
    assert obs.attempts == 2 and len(sim_log.requests()) == 2


def test_a_429_retry_after_is_waited_for(sim_url: str, sim_log: SimLog) -> None:
    obs = observe(sim_url, {"x-sim-fault-once": "rate_limit", "x-sim-retry-after": "0.4"})
    assert obs.error is None and obs.attempts == 2
    first, second = sim_log.requests()
    assert float(str(second["t"])) - float(str(first["t"])) >= 0.35


def test_the_key_never_appears_in_an_error_message(sim_url: str) -> None:
    obs = observe(sim_url, {"x-sim-fault": "client_error", "x-sim-status": "401"})
    assert obs.error is not None and KEY not in obs.error.message


def test_the_simulator_checks_the_key_and_the_version_header() -> None:
    with SimServer(seed=1, latency_scale=0.01, require_api_key=KEY) as url:
        ok = observe(url)
        c = client(url, api_key="sk-ant-wrong-key-0000000000000")
        engine = Engine({"t": c}, RunConfig(concurrency=1, retries=RetryPolicy(max=0)))
        (bad_key,) = asyncio.run(engine.run([CallUnit(CASE, "t")]))
        no_version = observe(url, {"anthropic-version": ""}, policy=RetryPolicy(max=0))
    assert ok.error is None
    assert bad_key.error is not None and bad_key.error.status == 401
    assert bad_key.error.message.startswith("HTTP 401: authentication_error:")
    assert no_version.error is not None and no_version.error.status == 400


def test_usage_counts_follow_opentelemetry() -> None:
    from pytest_llmguard.targets.anthropic import usage_counts

    usage = {
        "input_tokens": 20,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 300,
        "output_tokens": 7,
    }
    assert usage_counts(usage) == {
        "input_tokens": 1320,
        "output_tokens": 7,
        "cached_tokens": 1000,
        "cache_write_tokens": 300,
    }
    assert usage_counts({})["input_tokens"] is None
