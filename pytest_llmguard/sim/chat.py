"""Delivering one chat completion: a whole body after the latency, or a timed SSE stream.

A stream is a *plan*: a list of ``(seconds after the request, bytes)`` steps played in
order with one timer at a time (timers with equal deadlines are not ordered by asyncio).
The first content arrives at the time to first token, the rest is spread evenly over the
remaining latency; the final chunk, the optional usage chunk and ``[DONE]`` come last.
Fault responders (faults.py) reuse these plans, cut or altered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.answers import Completion
from pytest_llmguard.sim.http import LAST_CHUNK, HttpConnection, chunk, head, response

Step = tuple[float, bytes]
EventEncoder = Callable[[dict[str, Any]], bytes]

_PIECE = re.compile(r"\S+\s*|\s+")
_MAX_TIMED_WRITES = 16
SSE_HEAD = head(200, content_type="text/event-stream", headers=(("Cache-Control", "no-cache"),))


class ChatCall:
    """Everything decided about one chat request before anything is sent."""

    __slots__ = (
        "cached_tokens",
        "cid",
        "completion",
        "conn",
        "created",
        "headers",
        "include_usage",
        "latency_s",
        "model",
        "prompt_tokens",
        "retry_after_s",
        "status",
        "stream",
        "ttft_s",
    )

    def __init__(  # positional: built on every request, keywords cost measurably more
        self,
        conn: HttpConnection,
        headers: dict[str, str],
        model: str,
        completion: Completion,
        prompt_tokens: int,
        cached_tokens: int,
        latency_s: float,
        ttft_s: float,
        stream: bool,
        include_usage: bool,
        cid: str,
        created: int,
        retry_after_s: float,
    ) -> None:
        self.conn = conn
        self.headers = headers
        self.model = model
        self.completion = completion
        self.prompt_tokens = prompt_tokens
        self.cached_tokens = cached_tokens
        self.latency_s = latency_s
        self.ttft_s = ttft_s
        self.stream = stream
        self.include_usage = include_usage
        self.cid = cid
        self.created = created
        self.retry_after_s = retry_after_s
        self.status: int | None = 200

    def body_object(self) -> dict[str, Any]:
        """The ``chat.completion`` object as a dict (faults alter it)."""
        return payloads.completion_body(
            cid=self.cid,
            created=self.created,
            model=self.model,
            completion=self.completion,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
        )

    def body(self) -> bytes:
        """The ``chat.completion`` JSON bytes."""
        return payloads.completion_bytes(
            cid=self.cid,
            created=self.created,
            model=self.model,
            completion=self.completion,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
        )

    def chunk_objects(self) -> list[list[dict[str, Any]]]:
        """Stream chunks grouped by timed write: first group at TTFT, last at the end."""
        pieces = _PIECE.findall(self.completion.content) or [""]
        make = self._chunk
        groups: list[list[dict[str, Any]]] = [
            [make({"role": "assistant", "content": pieces[0]}, None)]
        ]
        rest = pieces[1:]
        per_write = max(1, -(-len(rest) // _MAX_TIMED_WRITES))
        for i in range(0, len(rest), per_write):
            groups.append([make({"content": p}, None) for p in rest[i : i + per_write]])
        tail = [make({}, self.completion.finish_reason)]
        if self.include_usage:
            usage = payloads.usage(self.completion, self.prompt_tokens, self.cached_tokens)
            tail.append(payloads.usage_chunk_object(self.cid, self.created, self.model, usage))
        groups.append(tail)
        return groups

    def stream_plan(
        self, encode: EventEncoder = payloads.dumps, *, done: bool = True
    ) -> list[Step]:
        """Timed writes of the SSE stream (head included, chunked framing applied)."""
        groups = self.chunk_objects()
        spread = self.latency_s - self.ttft_s
        last = len(groups) - 1
        steps: list[Step] = []
        for i, group in enumerate(groups):
            data = b"".join(payloads.sse(encode(obj)) for obj in group)
            if i == last and done:
                data += payloads.SSE_DONE
            steps.append((self.ttft_s + spread * i / max(last, 1), chunk(data)))
        steps[0] = (steps[0][0], SSE_HEAD + steps[0][1])
        return steps

    def _chunk(self, delta: dict[str, str], finish_reason: str | None) -> dict[str, Any]:
        return payloads.chunk_object(self.cid, self.created, self.model, delta, finish_reason)


def play(conn: HttpConnection, steps: list[Step], then: Callable[[], None]) -> None:
    """Write each step at its time, then call ``then`` (end, close or reset)."""

    def step(i: int) -> None:
        conn.write(steps[i][1])
        if i + 1 < len(steps):
            conn.later(steps[i + 1][0] - steps[i][0], step, i + 1)
        else:
            then()

    if steps:
        conn.later(steps[0][0], step, 0)
    else:
        conn.later(0.0, then)


def respond_normal(call: ChatCall) -> None:
    """Answer correctly: the whole body after the latency, or the timed stream."""
    conn = call.conn
    if call.stream:
        play(conn, call.stream_plan(), lambda: _finish_stream(conn))
        return
    data = response(200, call.body())
    if call.latency_s <= 0.0:
        conn.send(data)
    else:
        conn.later(call.latency_s, conn.send, data)


def _finish_stream(conn: HttpConnection) -> None:
    conn.write(LAST_CHUNK)
    conn.end()
