"""The simulator's Anthropic Messages route over real HTTP: request validation, the
message and stream shapes, error shapes, and the faults only this API has."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pytest_llmguard.sim import SimServer
from pytest_llmguard.sim.anthropic import ANTHROPIC_RESPONDERS
from pytest_llmguard.sim.faults import FAULT_NAMES

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-sim"}
QUESTION = "What is the refund window?"


def message(**extra: Any) -> dict[str, Any]:
    return {
        "model": "sim-stable",
        "max_tokens": 200,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        **extra,
    }


def post(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post("/messages", json=body, headers={**HEADERS, **headers})


def events(client: httpx.Client, **headers: str) -> list[tuple[str, Any]]:
    """(event name, data) of a streamed answer."""
    found: list[tuple[str, Any]] = []
    name = ""
    with client.stream(
        "POST", "/messages", json=message(stream=True), headers={**HEADERS, **headers}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((name, json.loads(line.removeprefix("data: "))))
    return found


def test_a_message_has_the_messages_api_shape(client: httpx.Client, answers: Any) -> None:
    response = post(client, message())
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": answers[QUESTION]}]
    assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    usage = body["usage"]
    assert set(usage) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert usage["output_tokens"] > 0 and usage["input_tokens"] > 0


def test_max_tokens_cuts_the_answer_with_the_max_tokens_stop_reason(client: httpx.Client) -> None:
    body = post(client, message(max_tokens=3)).json()
    assert body["stop_reason"] == "max_tokens"
    assert body["usage"]["output_tokens"] == 3


def test_a_stream_has_every_event_in_order(client: httpx.Client, answers: Any) -> None:
    found = events(client)
    names = [name for name, _ in found]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    assert all(data["type"] == name for name, data in found)
    text = "".join(d["delta"]["text"] for n, d in found if n == "content_block_delta")
    assert text == answers[QUESTION]
    start = found[0][1]["message"]
    assert start["content"] == [] and start["usage"]["output_tokens"] == 1
    delta = found[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert (
        delta["usage"]["output_tokens"] == post(client, message()).json()["usage"]["output_tokens"]
    )


@pytest.mark.parametrize(
    ("body", "headers", "message_part"),
    [
        (message(max_tokens=None), {}, "max_tokens: Field required"),
        (message(model=None), {}, "model: Field required"),
        (message(messages=[]), {}, "messages: at least one message is required"),
        (message(messages=[{"role": "system", "content": "x"}]), {}, "messages.0.role"),
        (message(stream="yes"), {}, "stream: Input should be a valid boolean"),
        (message(), {"anthropic-version": ""}, "anthropic-version: header is required"),
    ],
    ids=["max_tokens", "model", "no-messages", "role", "stream", "version"],
)
def test_invalid_requests_get_anthropic_400s(
    client: httpx.Client, body: dict[str, Any], headers: dict[str, str], message_part: str
) -> None:
    response = post(client, {k: v for k, v in body.items() if v is not None}, **headers)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert message_part in error["error"]["message"]


def test_an_unknown_model_is_a_not_found_error(client: httpx.Client) -> None:
    response = post(client, message(model="sim-nope"))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize(
    ("fault", "status", "error_type"),
    [
        ("overloaded", 529, "overloaded_error"),
        ("rate_limit", 429, "rate_limit_error"),
        ("server_error", 500, "api_error"),
        ("client_error", 400, "invalid_request_error"),
    ],
)
def test_faults_answer_in_anthropic_error_shapes(
    client: httpx.Client, fault: str, status: int, error_type: str
) -> None:
    response = post(client, message(), **{"x-sim-fault": fault})
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["request_id"]


@pytest.mark.parametrize(
    ("status", "error_type"), [(529, "overloaded_error"), (504, "timeout_error")]
)
def test_server_error_takes_anthropic_statuses(
    client: httpx.Client, status: int, error_type: str
) -> None:
    response = post(
        client, message(), **{"x-sim-fault": "server_error", "x-sim-status": str(status)}
    )
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type


def test_a_429_carries_retry_after_unless_asked_not_to(client: httpx.Client) -> None:
    with_header = post(client, message(), **{"x-sim-fault": "rate_limit", "x-sim-retry-after": "2"})
    assert with_header.headers["retry-after"] == "2"
    without = post(client, message(), **{"x-sim-fault": "rate_limit", "x-sim-no-retry-after": "1"})
    assert without.status_code == 429 and "retry-after" not in without.headers


def test_a_stream_error_breaks_off_the_stream_with_an_error_event(client: httpx.Client) -> None:
    found = events(client, **{"x-sim-fault": "stream_error"})
    names = [name for name, _ in found]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names
    assert found[-1][1] == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "injected"},
    }


def test_a_bad_status_for_a_stream_error_is_a_400(client: httpx.Client) -> None:
    response = post(client, message(), **{"x-sim-fault": "stream_error", "x-sim-status": "418"})
    assert response.status_code == 400 and "x-sim-status" in response.json()["error"]["message"]


def test_the_route_takes_every_chat_fault_and_its_own() -> None:
    assert set(ANTHROPIC_RESPONDERS) == {*FAULT_NAMES, "overloaded", "stream_error"}


def test_unknown_faults_name_the_route_s_faults(client: httpx.Client) -> None:
    response = post(client, message(), **{"x-sim-fault": "nope"})
    assert response.status_code == 400
    assert "stream_error" in response.json()["error"]["message"]


def test_cache_control_writes_once_then_reads(sim: SimServer) -> None:
    system = [{"type": "text", "text": "Be brief. " * 50, "cache_control": {"type": "ephemeral"}}]
    with httpx.Client(base_url=sim.base_url, timeout=10.0) as client:
        first = post(client, message(system=system)).json()["usage"]
        second = post(client, message(system=system)).json()["usage"]
        plain = post(client, message(system="Be brief. " * 50)).json()["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert plain["cache_read_input_tokens"] == plain["cache_creation_input_tokens"] == 0
    total = [u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
             for u in (first, second, plain)]  # fmt: skip
    assert len(set(total)) == 1


def test_the_log_records_the_messages_route(sim: SimServer, client: httpx.Client) -> None:
    post(client, message())
    (row,) = sim.request_log
    assert row["path"] == "/v1/messages" and row["status"] == 200 and row["model"] == "sim-stable"


def test_an_exhausted_credit_balance_is_anthropic_s_400(client: httpx.Client) -> None:
    response = post(client, message(), **{"x-sim-fault": "quota_exhausted"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "credit balance is too low" in body["error"]["message"]
