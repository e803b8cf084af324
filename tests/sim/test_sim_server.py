"""The simulator over real HTTP: OpenAI shapes, streaming, embeddings, log, determinism."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest

from pytest_llmguard.sim import BUILTIN_MODELS, SimServer, prompt_sha

REFUND = "What is the refund window?"


def chat(prompt: str, model: str = "sim-stable", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def content(response: httpx.Response) -> str:
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def sse_events(lines: list[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def test_completion_has_the_openai_shape(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat("Hello there", max_tokens=200))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "sim-stable"
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}


def test_content_is_deterministic(client: httpx.Client) -> None:
    first = content(client.post("/chat/completions", json=chat("Tell me a fact")))
    second = content(client.post("/chat/completions", json=chat("Tell me a fact")))
    assert first == second


def test_answer_book_shapes_each_model(client: httpx.Client, answers: Mapping[str, str]) -> None:
    def ask(model: str) -> str:
        return content(client.post("/chat/completions", json=chat(REFUND, model)))

    assert ask("sim-stable") == answers[REFUND]
    assert ask("sim-candidate") == answers[REFUND]
    assert ask("sim-drifted") != answers[REFUND]
    assert len(ask("sim-wordy")) > len(answers[REFUND])


def test_max_tokens_gives_finish_reason_length(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(REFUND, max_completion_tokens=4)).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] <= 4


def test_repeated_system_message_reports_cached_tokens(client: httpx.Client) -> None:
    system = "You are a careful support agent. " * 20  # 660 chars: 165 tokens
    body = {
        "model": "sim-stable",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
    }
    first = client.post("/chat/completions", json=body).json()["usage"]
    second = client.post("/chat/completions", json=body).json()["usage"]
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["prompt_tokens_details"]["cached_tokens"] == 128


def test_stream_reassembles_to_the_same_text(client: httpx.Client) -> None:
    expected = content(client.post("/chat/completions", json=chat(REFUND)))
    request = chat(REFUND, stream=True, stream_options={"include_usage": True})
    with client.stream("POST", "/chat/completions", json=request) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(list(response.iter_lines()))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == expected
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert len(chunks) > 5  # pieces, not one blob


def test_stream_without_include_usage_has_no_usage_chunk(client: httpx.Client) -> None:
    with client.stream("POST", "/chat/completions", json=chat("hi", stream=True)) as response:
        events = sse_events(list(response.iter_lines()))
    assert events[-1] == "[DONE]"
    assert all("usage" not in json.loads(e) for e in events[:-1])


def test_keep_alive_serves_many_requests_on_one_connection(client: httpx.Client) -> None:
    for i in range(20):
        client.post("/chat/completions", json=chat(f"q{i}"))
    with client.stream("POST", "/chat/completions", json=chat("s", stream=True)) as response:
        list(response.iter_lines())
    assert client.post("/chat/completions", json=chat("after stream")).status_code == 200


def test_models_lists_every_version(client: httpx.Client) -> None:
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert {m["id"] for m in body["data"]} == set(BUILTIN_MODELS)


def test_embeddings_similar_texts_are_closer(client: httpx.Client) -> None:
    texts = [
        "Refunds are accepted within 30 days",
        "refunds are accepted within thirty days of delivery",
        "The weather in Paris is sunny today",
    ]
    body = client.post("/embeddings", json={"model": "sim-embed", "input": texts}).json()
    vectors = [d["embedding"] for d in body["data"]]
    assert [len(v) for v in vectors] == [256, 256, 256]
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0, rel_tol=1e-4)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > 0.6 > cosine(vectors[0], vectors[2])
    single = client.post("/embeddings", json={"model": "m", "input": texts[0]}).json()
    assert single["data"][0]["embedding"] == vectors[0]
    assert single["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/chat/completions", chat("x", "gpt-nope"), 404, "model_not_found"),
        (
            "/chat/completions",
            {"model": "sim-stable", "messages": []},
            400,
            "invalid_request_error",
        ),
        ("/embeddings", {"model": "m", "input": [1, 2]}, 400, "invalid_request_error"),
        ("/nowhere", {}, 404, "unknown_url"),
    ],
)
def test_errors_are_openai_shaped(
    client: httpx.Client, path: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def test_bad_json_is_400(client: httpx.Client) -> None:
    response = client.post("/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert "parse the JSON" in response.json()["error"]["message"]


def test_wrong_method_is_405(client: httpx.Client) -> None:
    response = client.get("/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_unknown_fault_header_is_a_clear_400(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat("x"), headers={"x-sim-fault": "boom"})
    assert response.status_code == 400
    assert "rate_limit" in response.json()["error"]["message"]


def test_request_log_counts_each_call(sim: SimServer, client: httpx.Client) -> None:
    for prompt in ("a", "b", "a"):
        client.post("/chat/completions", json=chat(prompt, max_tokens=50))
    client.post("/chat/completions", json=chat("a", "unknown-model"))
    log = httpx.get(sim.base_url.replace("/v1", "/_sim/requests")).json()
    assert log == sim.request_log
    chats = [r for r in log if r["status"] == 200]
    sha_a = prompt_sha([{"role": "user", "content": "a"}])
    assert [r["prompt_sha"] for r in chats].count(sha_a) == 2
    assert [r["attempt"] for r in chats if r["prompt_sha"] == sha_a] == [1, 2]
    assert log[-1]["status"] == 404 and log[-1]["model"] == "unknown-model"
    assert all(r["completion_tokens"] > 0 and r["prompt_tokens"] > 0 for r in chats)
    assert httpx.post(sim.base_url.replace("/v1", "/_sim/reset")).json() == {"ok": True}
    assert sim.request_log == []


def test_fixed_latency_header_is_recorded_exactly(sim: SimServer, client: httpx.Client) -> None:
    client.post("/chat/completions", json=chat("x"), headers={"x-sim-latency-ms": "200"})
    (entry,) = sim.request_log
    assert entry["latency_ms"] == 200.0
    assert entry["ttft_ms"] == pytest.approx(200.0 * BUILTIN_MODELS["sim-stable"].ttft_fraction)


def test_require_api_key() -> None:
    with SimServer(require_api_key="sekret", latency_scale=0.0) as url:
        assert httpx.post(f"{url}/chat/completions", json=chat("x")).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (
            httpx.post(f"{url}/chat/completions", json=chat("x"), headers=wrong).status_code == 401
        )
        right = {"Authorization": "Bearer sekret"}
        assert (
            httpx.post(f"{url}/chat/completions", json=chat("x"), headers=right).status_code == 200
        )


def _run_sequence(seed: int) -> tuple[list[str], list[float]]:
    server = SimServer(seed=seed, latency_scale=0.001)
    with server as url, httpx.Client(base_url=url) as c:
        texts = [
            content(c.post("/chat/completions", json=chat(p, m)))
            for p in ("one", "two", "one")
            for m in ("sim-stable", "sim-drifted")
        ]
        latencies = [r["latency_ms"] for r in server.request_log]
    return texts, latencies


def test_same_seed_reproduces_outputs_and_latencies() -> None:
    texts_a, latencies_a = _run_sequence(seed=3)
    texts_b, latencies_b = _run_sequence(seed=3)
    texts_c, latencies_c = _run_sequence(seed=4)
    assert (texts_a, latencies_a) == (texts_b, latencies_b)
    assert texts_c != texts_a and latencies_c != latencies_a
    # attempt 2 of the same prompt gets fresh noise
    assert latencies_a[0] != latencies_a[4]


def test_run_seed_varies_noise_between_runs_but_keeps_per_case_latency() -> None:
    def run(run_seed: int | None) -> list[float]:
        server = SimServer(seed=3, noise_sigma=0.1, latency_scale=0.001, run_seed=run_seed)
        with server as url, httpx.Client(base_url=url) as c:
            for prompt in ("p1", "p2", "p3", "p4"):
                c.post("/chat/completions", json=chat(prompt, "sim-stable"))
            return [r["latency_ms"] for r in server.request_log]

    night_1, night_1_again, night_2 = run(1), run(1), run(2)
    assert night_1 == night_1_again and night_1 != night_2
    # per-case bases are kept: every case moves by its noise only (sigma 0.1)
    assert all(0.5 < a / b < 2.0 for a, b in zip(night_1, night_2, strict=True))
    assert run(None) == run(None)


def test_latency_is_paired_across_models() -> None:
    server = SimServer(noise_sigma=0.0, latency_scale=0.001)
    with server as url, httpx.Client(base_url=url) as c:
        for prompt in ("p1", "p2", "p3"):
            for model in ("sim-stable", "sim-slow"):
                c.post("/chat/completions", json=chat(prompt, model))
        log = server.request_log
    for stable, slow in zip(log[::2], log[1::2], strict=True):
        assert slow["latency_ms"] == pytest.approx(stable["latency_ms"] * 1.6)
    assert len({round(r["latency_ms"], 9) for r in log[::2]}) == 3  # cases differ


def test_in_loop_mode_with_aiohttp(answers: Mapping[str, str]) -> None:
    async def scenario() -> tuple[str, list[bytes], list[dict[str, Any]]]:
        server = SimServer(answers=answers, latency_scale=0.01)
        async with server as url, aiohttp.ClientSession() as session:
            async with session.post(f"{url}/chat/completions", json=chat(REFUND)) as r:
                text = (await r.json())["choices"][0]["message"]["content"]
            request = chat(REFUND, stream=True, stream_options={"include_usage": True})
            async with session.post(f"{url}/chat/completions", json=request) as r:
                lines = [line async for line in r.content]
            log = server.request_log
        return text, lines, log

    text, lines, log = asyncio.run(scenario())
    assert text == answers[REFUND]
    events = [
        line.decode().strip()[len("data: ") :] for line in lines if line.startswith(b"data: ")
    ]
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e)["choices"] for e in events[:-1]]
    assert "".join(p[0]["delta"].get("content", "") for p in pieces if p) == answers[REFUND]
    assert [r["stream"] for r in log] == [False, True]


def test_in_loop_start_stop_frees_the_port() -> None:
    async def scenario() -> int:
        server = SimServer()
        await server.start()
        port = server.port
        await server.stop()
        again = SimServer(port=port)
        await again.start()
        await again.stop()
        return port

    assert asyncio.run(scenario()) > 0


def _raw(url: str, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection (or 5 s pass)."""
    parts = urlsplit(url)
    received = bytearray()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    return bytes(received)


def _request(body: bytes, *extra: str) -> bytes:
    head = ["POST /v1/chat/completions HTTP/1.1", "Host: sim", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_pipelined_requests_are_answered_in_order(sim: SimServer) -> None:
    bodies = [json.dumps(chat(f"pipe {i}")).encode() for i in range(3)]
    data = b"".join(_request(b, f"Content-Length: {len(b)}") for b in bodies[:2])
    data += _request(bodies[2], f"Content-Length: {len(bodies[2])}", "Connection: close")
    received = _raw(sim.base_url, data)
    assert received.count(b"HTTP/1.1 200 OK") == 3
    shas = [r["prompt_sha"] for r in sim.request_log]
    assert shas == [prompt_sha(chat(f"pipe {i}")["messages"]) for i in range(3)]
    assert received.index(shas[0].encode()) < received.index(shas[2].encode())


def test_chunked_request_body_is_refused_with_411(sim: SimServer) -> None:
    received = _raw(sim.base_url, _request(b"2\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked"))
    assert received.startswith(b"HTTP/1.1 411")


def test_expect_100_continue(sim: SimServer) -> None:
    body = json.dumps(chat("continue")).encode()
    head = _request(
        b"", f"Content-Length: {len(body)}", "Expect: 100-continue", "Connection: close"
    )
    parts = urlsplit(sim.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert b"HTTP/1.1 200 OK" in sock.recv(65536)


def test_http_1_0_closes_after_the_response(sim: SimServer) -> None:
    request = b"GET /v1/models HTTP/1.0\r\nHost: sim\r\n\r\n"
    received = _raw(sim.base_url, request)  # returns only because the server closes
    assert received.startswith(b"HTTP/1.1 200 OK") and b"sim-stable" in received
