"""Each injected fault does what faults.py says, over real HTTP."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pytest_llmguard.sim import BUILTIN_MODELS, FAULT_NAMES, SimServer
from pytest_llmguard.sim.faults import HUGE_BYTES, pick_fault


def chat(prompt: str = "fault?", model: str = "sim-stable", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def post(client: httpx.Client, fault: str, **headers: str) -> httpx.Response:
    return client.post("/chat/completions", json=chat(), headers={"x-sim-fault": fault, **headers})


def stream_lines(client: httpx.Client, fault: str) -> list[str]:
    request = chat(stream=True, stream_options={"include_usage": True})
    headers = {"x-sim-fault": fault}
    with client.stream("POST", "/chat/completions", json=request, headers=headers) as response:
        return [line for line in response.iter_lines() if line]


def raw(sim: SimServer, fault: str, *, read_for_s: float) -> bytes:
    """POST with a raw socket; return what arrives until close, reset or time is up."""
    url = urlsplit(sim.base_url)
    body = json.dumps(chat()).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\nx-sim-fault: {fault}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    received = bytearray()
    deadline = time.monotonic() + read_for_s
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(request)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not data:
                break
            received += data
    return bytes(received)


def test_every_fault_is_documented() -> None:
    import pytest_llmguard.sim.faults as faults

    assert faults.__doc__ is not None
    for name in FAULT_NAMES:
        assert f"\n{name} " in faults.__doc__


def test_rate_limit_sends_retry_after_seconds(client: httpx.Client) -> None:
    response = post(client, "rate_limit", **{"x-sim-retry-after": "3"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "3000"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert post(client, "rate_limit").headers["retry-after"] == "1"  # the model's default


def test_rate_limit_sends_retry_after_as_http_date(client: httpx.Client) -> None:
    headers = {"x-sim-retry-after": "30", "x-sim-retry-after-date": "1"}
    response = post(client, "rate_limit", **headers)
    when = email.utils.parsedate_to_datetime(response.headers["retry-after"])
    assert 20 < when.timestamp() - time.time() <= 31


@pytest.mark.parametrize(("fault", "status", "expected"), [
    ("server_error", None, 500),
    ("server_error", "503", 503),
    ("server_error", "504", 504),
    ("client_error", None, 400),
    ("client_error", "401", 401),
    ("client_error", "404", 404),
])  # fmt: skip
def test_error_statuses(
    client: httpx.Client, fault: str, status: str | None, expected: int
) -> None:
    headers = {"x-sim-status": status} if status else {}
    response = post(client, fault, **headers)
    assert response.status_code == expected
    assert response.json()["error"]["message"]


def test_status_that_does_not_fit_the_fault_is_rejected(client: httpx.Client) -> None:
    response = post(client, "server_error", **{"x-sim-status": "418"})
    assert response.status_code == 400
    assert "x-sim-status must be one of 500, 502, 503, 504" in response.json()["error"]["message"]


def test_malformed_body_is_not_json(client: httpx.Client) -> None:
    response = post(client, "malformed")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_malformed_stream_has_a_broken_event(client: httpx.Client) -> None:
    lines = stream_lines(client, "malformed")
    assert lines[-1] == "data: [DONE]"
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0][len("data: ") :])


def test_wrong_shape_and_empty_choices(client: httpx.Client) -> None:
    wrong = post(client, "wrong_shape").json()
    assert "choices" not in wrong and wrong["object"] == "chat.completion"
    assert post(client, "empty_choices").json()["choices"] == []
    events = [json.loads(line[6:]) for line in stream_lines(client, "empty_choices")[:-1]]
    assert events and all(e["choices"] == [] for e in events)


def test_truncated_body_ends_early(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, "truncated")


def test_truncated_stream_ends_early(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        stream_lines(client, "truncated")


def test_no_done_stream_ends_cleanly_without_done(client: httpx.Client) -> None:
    lines = stream_lines(client, "no_done")
    assert "data: [DONE]" not in lines
    assert json.loads(lines[-1][6:])["usage"]["total_tokens"] > 0


def test_interrupted_stream_ends_with_done_but_no_finish_reason(client: httpx.Client) -> None:
    whole = stream_lines(client, "no_usage")
    lines = stream_lines(client, "interrupted")
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert 1 <= len(chunks) < len(whole) - 1
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert all("usage" not in c for c in chunks)
    # a plain request is not interrupted (llama.cpp cuts only streams)
    assert post(client, "interrupted").json()["choices"][0]["finish_reason"] == "stop"


def test_no_usage_leaves_usage_out(client: httpx.Client) -> None:
    lines = stream_lines(client, "no_usage")  # asks for include_usage
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    body = post(client, "no_usage").json()
    assert "usage" not in body and body["choices"][0]["message"]["content"]


def test_reset_cuts_the_connection(sim: SimServer, client: httpx.Client) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post(client, "reset")
    received = raw(sim, "reset", read_for_s=5.0)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    length = int(next(h for h in head.split(b"\r\n") if h.startswith(b"Content-Length")).split()[1])
    assert len(body) < length


def test_non_utf8_content(client: httpx.Client) -> None:
    response = post(client, "non_utf8")
    assert response.status_code == 200
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")


def test_huge_body_is_50_mb_of_valid_json(client: httpx.Client) -> None:
    response = post(client, "huge")
    assert len(response.content) >= HUGE_BYTES
    assert len(response.json()["choices"][0]["message"]["content"]) >= HUGE_BYTES - 12


def test_slow_trickle_sends_one_byte_at_a_time(sim: SimServer) -> None:
    received = raw(sim, "slow_trickle", read_for_s=0.7)
    head, separator, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and separator
    assert 1 <= len(body) <= 5  # one byte per 200 ms; the full body is hundreds of bytes


def test_slow_trickle_trips_a_short_client_timeout(client: httpx.Client) -> None:
    # a byte arrives every 200 ms, so only a read timeout below that (or a total deadline) trips
    with pytest.raises(httpx.TimeoutException):
        client.post(
            "/chat/completions",
            json=chat(),
            headers={"x-sim-fault": "slow_trickle"},
            timeout=httpx.Timeout(0.1, read=0.15),
        )


def test_timeout_holds_the_connection(sim: SimServer, client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/chat/completions", json=chat(), headers={"x-sim-fault": "timeout"}, timeout=0.3
        )
    (entry,) = sim.request_log
    assert (entry["fault"], entry["status"], entry["completion_tokens"]) == ("timeout", None, None)


def test_fault_once_then_success(sim: SimServer, client: httpx.Client) -> None:
    headers = {"x-sim-fault-once": "server_error"}
    first = client.post("/chat/completions", json=chat("retry me"), headers=headers)
    second = client.post("/chat/completions", json=chat("retry me"), headers=headers)
    assert (first.status_code, second.status_code) == (500, 200)
    log = sim.request_log
    assert [(r["attempt"], r["fault"], r["status"]) for r in log] == [
        (1, "server_error", 500),
        (2, None, 200),
    ]


def test_flaky_model_faults_follow_its_rates_and_clear_on_retry() -> None:
    flaky = BUILTIN_MODELS["sim-flaky"]
    faults = [pick_fault(flaky, 0, f"sha{i}", 1) for i in range(4000)]
    assert 0.035 < faults.count("rate_limit") / 4000 < 0.065
    assert 0.018 < faults.count("server_error") / 4000 < 0.042
    failed = [i for i, f in enumerate(faults) if f]
    retried = [pick_fault(flaky, 0, f"sha{i}", 2) for i in failed]
    assert retried.count(None) > 0.8 * len(failed)
    assert pick_fault(BUILTIN_MODELS["sim-stable"], 0, "sha1", 1) is None


def test_flaky_model_over_http(sim: SimServer, client: httpx.Client) -> None:
    statuses = [
        client.post("/chat/completions", json=chat(f"p{i}", "sim-flaky")).status_code
        for i in range(60)
    ]
    assert set(statuses) <= {200, 429, 500, 502, 503}
    faulted = [r for r in sim.request_log if r["fault"]]
    assert all(r["status"] != 200 for r in faulted)
    assert statuses.count(200) == 60 - len(faulted)
