"""The shared HTTP machinery: server-sent events, JSON bodies, error bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import pytest

from pytest_llmguard.faults import CallFault
from pytest_llmguard.targets.wire import (
    SSEDecoder,
    SSEEvent,
    error_message,
    json_object,
    sse_events,
    valid_text,
)


def decode(lines: Iterable[bytes], limit: int = 1 << 20) -> list[SSEEvent]:
    decoder = SSEDecoder(limit)
    events = [e for line in lines if (e := decoder.feed(line)) is not None]
    last = decoder.end()
    return events if last is None else [*events, last]


def test_one_event_per_blank_line_named_by_event() -> None:
    stream = [
        b"event: message_start\n",
        b'data: {"a":1}\n',
        b"\n",
        b'data: {"b":2}\n',
        b"\n",
    ]
    assert decode(stream) == [
        SSEEvent("message_start", b'{"a":1}'),
        SSEEvent("message", b'{"b":2}'),  # the name does not carry over
    ]


def test_multi_line_data_is_joined_with_newlines() -> None:
    stream = [b"data: first\n", b"data:second\n", b"data:  third\n", b"\n"]
    # One leading space is the separator's; more are the value's.
    assert decode(stream) == [SSEEvent("message", b"first\nsecond\n third")]


def test_comments_keep_alives_and_other_fields_are_skipped() -> None:
    stream = [
        b": keep-alive\n",
        b"\n",
        b"\n",
        b"id: 7\n",
        b"retry: 1000\n",
        b"x-unknown: 1\n",
        b"data: [DONE]\n",
        b": in the middle\n",
        b"\n",
    ]
    assert decode(stream) == [SSEEvent("message", b"[DONE]")]


def test_crlf_and_cr_less_lines() -> None:
    stream = [b"event: delta\r\n", b"data: x\r\n", b"\r\n", b"data: y", b""]
    assert decode(stream) == [SSEEvent("delta", b"x"), SSEEvent("message", b"y")]


def test_an_event_without_its_blank_line_is_given_at_the_end() -> None:
    assert decode([b"data: [DONE]\n"]) == [SSEEvent("message", b"[DONE]")]
    assert decode([b"event: ping\n"]) == []  # no data: nothing to give


def test_the_stream_size_is_bounded() -> None:
    decoder = SSEDecoder(limit=20)
    assert decoder.feed(b"data: 0123456789\n") is None  # 17 bytes
    with pytest.raises(CallFault, match="stream larger than 20 bytes") as info:
        decoder.feed(b"\n\n\n\n")
    assert info.value.record.cls == "invalid_response"


def test_sse_events_reads_an_async_line_stream() -> None:
    async def lines() -> AsyncIterator[bytes]:
        for line in (b"data: a\n", b"\n", b"event: end\n", b"data: b\n"):
            yield line

    async def collect() -> list[SSEEvent]:
        return [event async for event in sse_events(lines())]

    assert asyncio.run(collect()) == [SSEEvent("message", b"a"), SSEEvent("end", b"b")]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "chunk is not valid JSON: Expecting property name enclosed in double quotes"),
        (b"[1]", "chunk is JSON list, not an object"),
        (b'{"a": "\xff"}', "chunk is not valid UTF-8"),
    ],
)
def test_json_object_faults_are_invalid_responses(raw: bytes, message: str) -> None:
    with pytest.raises(CallFault) as info:
        json_object(raw, "chunk")
    assert info.value.record.cls == "invalid_response"
    assert info.value.record.message.startswith(message)


def test_error_bodies_and_text() -> None:
    assert error_message('{"error": {"message": "bad key", "type": "auth"}}') == "bad key"
    assert error_message('{"type": "error", "error": {"message": "overloaded"}}') == "overloaded"
    assert error_message('{"error": "nope"}') == "nope"
    assert error_message("  <html>502</html> ") == "<html>502</html>"
    assert valid_text("a\ud800b") == "a\ufffdb"
