"""Server-sent events (``text/event-stream``) for streamed responses: a decoder that runs
inside the timed read loop, and the two ways providers consume it (re-exported by
``targets.wire``).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, NamedTuple

from pytest_llmguard.faults import CallFault

if TYPE_CHECKING:
    import aiohttp

MAX_BODY_BYTES = 8 * 1024 * 1024  # the largest response body or stream read (targets.wire)


class SSEEvent(NamedTuple):
    """One server-sent event: its ``event:`` name (default ``message``) and its data.

    A named tuple, not a frozen dataclass: one is made per streamed chunk, and a frozen
    dataclass's ``__init__`` costs about four times as much.
    """

    event: str
    data: bytes


class SSEDecoder:
    """Lines of a ``text/event-stream`` in, events out (the WHATWG rules that matter here).

    ``data:`` lines of one event are joined with newlines; ``event:`` names it; an empty
    line ends it; comments (``:``), ``id:``/``retry:`` and unknown fields are skipped, as
    are keep-alives (empty lines with no event pending). One leading space of a value is
    dropped. At the end of the stream a pending event is still given out (servers that
    omit the final blank line are common). Past ``limit`` bytes: CallFault.

    Hand-written on purpose: the events arrive through aiohttp's own line reader, and the
    decoder has to run inside the timed read loop without a second buffer or thread.
    """

    __slots__ = ("_data", "_event", "_limit", "_size")

    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        self._limit = limit
        self._size = 0
        self._event = ""
        self._data: list[bytes] | None = None

    def feed(self, line: bytes) -> SSEEvent | None:
        """Take one line (with or without its ending); the event it completes, if any."""
        self._size += len(line)
        if self._size > self._limit:
            raise CallFault("invalid_response", f"stream larger than {self._limit} bytes")
        line = line.rstrip(b"\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(b"data:"):  # nearly every line: the fast path
            value = line[6:] if line[5:6] == b" " else line[5:]
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
            return None
        if line[:1] == b":":
            return None  # a comment (keep-alive)
        name, _, value = line.partition(b":")
        if name == b"event":
            self._event = (value[1:] if value[:1] == b" " else value).decode("utf-8", "replace")
        return None

    def end(self) -> SSEEvent | None:
        """At the end of the stream: the event still pending, if any."""
        return self._dispatch()

    def _dispatch(self) -> SSEEvent | None:
        data, event = self._data, self._event
        self._data, self._event = None, ""
        if data is None:
            return None  # an event with no data is not dispatched
        return SSEEvent(event or "message", data[0] if len(data) == 1 else b"\n".join(data))


async def feed_events(
    resp: aiohttp.ClientResponse, take: Callable[[SSEEvent], bool], limit: int = MAX_BODY_BYTES
) -> None:
    """Hand each event of a streamed response to ``take`` until it returns True (the
    stream's own end marker) or the stream ends (see :class:`SSEDecoder`)."""
    decoder = SSEDecoder(limit)
    async for line in resp.content:
        event = decoder.feed(line)
        if event is not None and take(event):
            return
    last = decoder.end()
    if last is not None:
        take(last)


async def sse_events(
    lines: AsyncIterable[bytes], limit: int = MAX_BODY_BYTES
) -> AsyncIterator[SSEEvent]:
    """The events of a stream of lines (``resp.content``), see :class:`SSEDecoder`."""
    decoder = SSEDecoder(limit)
    async for line in lines:
        event = decoder.feed(line)
        if event is not None:
            yield event
    last = decoder.end()
    if last is not None:
        yield last
