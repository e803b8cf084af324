"""HTTP machinery every JSON-over-HTTP provider shares: timed sessions, bounded reads,
error bodies turned into classified faults, server-sent events, JSON and text checks.

A provider module (``openai``, ``anthropic``, ``http``) holds only its wire
format: how a request body is built and how a response or stream chunk is read.

aiohttp rather than httpx's default transport on the hot path: at 64 concurrent requests
httpx's pool spent ~7 ms of CPU per request on this class of machine, aiohttp ~0.2 ms.
aiohttp is imported when the first session is opened, so a cached replay never loads it
(about 0.3 s of start-up, a third of it building TLS contexts).

Latency is timed here, around the request on the wire: from just before the (already
encoded) request is handed to the connection until the event loop received the last
bytes of the response, stamped in the connection's ``data_received`` (not when the
calling coroutine next runs). With 64 replies landing together, a coroutine-side clock
reports the time to work through the burst as model latency; the protocol-side one does
not.
"""

from __future__ import annotations

import functools
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pytest_llmguard.faults import (
    CallFault,
    class_for_status,
    parse_retry_after,
    redact_url,
    scrub,
)
from pytest_llmguard.targets.sse import MAX_BODY_BYTES as MAX_BODY_BYTES
from pytest_llmguard.targets.sse import SSEDecoder as SSEDecoder
from pytest_llmguard.targets.sse import SSEEvent as SSEEvent
from pytest_llmguard.targets.sse import feed_events as feed_events
from pytest_llmguard.targets.sse import sse_events as sse_events

if TYPE_CHECKING:
    import aiohttp

MAX_ERROR_BODY_BYTES = 16 * 1024
# More tokens than any model reads or writes in one response (context windows are a few
# million): a larger count is a broken or hostile server, and would price as ~$1e18.
MAX_TOKEN_COUNT = 100_000_000
MAX_NAME_CHARS = 200  # a model name or finish reason, as shown in reports
_READ_CHUNK = 64 * 1024

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ERROR_BODY_BYTES",
    "SSEDecoder",
    "SSEEvent",
    "error_message",
    "feed_events",
    "http_fault",
    "int_or_none",
    "json_object",
    "open_session",
    "read_bounded",
    "sent_at",
    "sse_events",
    "stream_error",
    "text_field",
    "timed_connector",
    "token_count",
    "usage_object",
    "valid_text",
    "wire_ms",
]


# --------------------------------------------------------------------------- timing


def open_session(
    max_connections: int, timeout_s: float, headers: Mapping[str, str]
) -> aiohttp.ClientSession:
    """An aiohttp session over a :func:`timed_connector` (imports aiohttp on first use)."""
    import aiohttp

    # One connection per concurrent call, so no call waits for a pooled
    # connection inside the timed region.
    return aiohttp.ClientSession(
        connector=timed_connector(max_connections),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        headers=dict(headers),
    )


class _StampingTransport:
    """The connection's transport, stamping when the request's bytes are handed to it."""

    __slots__ = ("_inner", "_owner")

    def __init__(self, inner: Any, owner: Any) -> None:
        self._inner = inner
        self._owner = owner

    def write(self, data: Any) -> None:
        self._owner.sent_at = time.perf_counter()
        self._inner.write(data)

    def writelines(self, chunks: Any) -> None:
        self._owner.sent_at = time.perf_counter()
        self._inner.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def timed_connector(limit: int) -> aiohttp.TCPConnector:
    """A connector whose connections stamp when a request is written and when bytes arrive.

    Timing on the coroutine side counted connection set-up and the wait to be scheduled
    (the first 64 requests of a 100 ms run: 120-130 ms), and the time to work through a
    burst of replies; these stamps are taken where the bytes cross the event loop.
    """
    import aiohttp
    from aiohttp.client_proto import ResponseHandler

    class TimedResponseHandler(ResponseHandler):
        sent_at = 0.0
        received_at = 0.0

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self.transport = _StampingTransport(transport, self)  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            self.received_at = time.perf_counter()
            super().data_received(data)

    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0)
    factory = getattr(connector, "_factory", None)
    # aiohttp's own factory is partial(ResponseHandler, loop=...); if a release changes
    # that, keep its factory and time on the coroutine side (wire_ms falls back).
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        connector._factory = functools.partial(  # type: ignore[assignment]
            TimedResponseHandler, *factory.args, **factory.keywords
        )
    return connector


def sent_at(resp: aiohttp.ClientResponse, t0: float) -> float:
    """When the request was written (call as soon as the response starts), else ``t0``."""
    stamp = getattr(getattr(resp, "_protocol", None), "sent_at", None)
    return stamp if isinstance(stamp, float) and t0 <= stamp <= time.perf_counter() else t0


def _arrived(resp: aiohttp.ClientResponse, sent: float) -> float:
    """When the response's latest bytes reached the event loop (now, if that is unknown)."""
    now = time.perf_counter()
    stamp = getattr(getattr(resp, "_protocol", None), "received_at", None)
    return stamp if isinstance(stamp, float) and sent < stamp <= now else now


def wire_ms(resp: aiohttp.ClientResponse, sent: float) -> float:
    """From the request's write to when its last bytes reached the event loop, in ms."""
    return (_arrived(resp, sent) - sent) * 1000.0


# --------------------------------------------------------------------------- bodies


async def read_bounded(resp: aiohttp.ClientResponse, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or CallFault(invalid_response) once it passes ``limit`` bytes."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise CallFault("invalid_response", f"response body of {declared} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await resp.content.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise CallFault("invalid_response", f"response body exceeds {limit} bytes")
        chunks.append(chunk)


async def http_fault(
    resp: aiohttp.ClientResponse,
    secrets: tuple[str, ...] = (),
    describe: Callable[[str], str] | None = None,
) -> CallFault:
    """The classified fault of a response with status >= 400 (its body read, bounded).

    The message carries the server's own error text (``describe(body text)``, by default
    :func:`error_message`), with ``secrets`` and anything key-shaped removed: servers do
    echo the key they were sent.
    """
    import aiohttp

    if 300 <= resp.status < 400:
        # Not followed: a redirect may lead to another host, and the key (Authorization,
        # Azure's api-key, custom headers) would go with it.
        where = redact_url(resp.headers.get("location", "?"))[:200]
        return CallFault(
            "client_error",
            f"HTTP {resp.status}: redirected to {where}; API calls do not follow redirects "
            "(credentials must not reach another host): set base_url to the final address",
            resp.status,
        )
    try:
        text = (await resp.content.read(MAX_ERROR_BODY_BYTES)).decode("utf-8", "replace")
    except (aiohttp.ClientError, TimeoutError):
        text = ""
    detail = (describe or error_message)(text) or resp.reason or ""
    if resp.status == 429 and quota_exhausted(text):
        # Not a rate limit: no wait makes the quota come back, so it is not retried.
        detail = f"insufficient_quota: {detail} (the account's quota is used up; not retried)"
        return CallFault("client_error", scrub(f"HTTP 429: {detail}", secrets), resp.status)
    return CallFault(
        class_for_status(resp.status),
        scrub(f"HTTP {resp.status}: {detail}", secrets),
        resp.status,
        parse_retry_after(resp.headers.get("retry-after")),
    )


def quota_exhausted(text: str) -> bool:
    """Whether an error body is OpenAI's ``insufficient_quota`` (sent with a 429: the plan's
    quota or credit is used up, https://platform.openai.com/docs/guides/error-codes)."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return False
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return False
    return "insufficient_quota" in (error.get("code"), error.get("type"))


def error_message(text: str) -> str:
    """The message of an error body: ``{"error": {"message": ...}}``, ``{"error": "..."}``
    (OpenAI, Anthropic and most proxies), else the start of the text."""
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return text.strip()[:200]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return text.strip()[:200]


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object, or CallFault(invalid_response) naming ``what``."""
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CallFault("invalid_response", f"{what} is not valid UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise CallFault(
            "invalid_response", f"{what} is not valid JSON: {exc.msg} at {exc.pos}"
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, 5,000 brackets deep
        raise CallFault("invalid_response", f"{what} is not usable JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CallFault("invalid_response", f"{what} is JSON {type(value).__name__}, not an object")
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` with lone surrogates (JSON escapes like ``\\ud800``) made U+FFFD.

    Such a string cannot be written as UTF-8: left in, it would fail the report at the
    end of the run (or the call child's pipe) instead of showing up as odd output.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def int_or_none(value: Any) -> int | None:
    """A token count as reported (an int or a whole float), else None (never a bool)."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shown(value: Any) -> str:
    """A wire value for a message: short, and never a 400-digit number in full."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a number of {len(str(abs(value)))} digits"
    return repr(value)[:60]


def token_count(value: Any, name: str) -> int | None:
    """A usage count: None when not reported; CallFault(invalid_response) when it is not
    a whole number from 0 to ``MAX_TOKEN_COUNT`` (negative, NaN, 1.5, "12", 10**25)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CallFault("invalid_response", f"usage {name} is not a token count: {_shown(value)}")
    if not 0 <= value <= MAX_TOKEN_COUNT:
        raise CallFault(
            "invalid_response",
            f"usage {name} is {_shown(value)}, outside 0..{MAX_TOKEN_COUNT:,} tokens",
        )
    return value


def usage_object(value: Any, name: str = "usage") -> Mapping[str, Any]:
    """A usage object (or one of its ``*_details``): {} when absent, CallFault if not an object."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CallFault("invalid_response", f"{name} is not an object: {_shown(value)}")
    return value


def text_field(value: Any, name: str, default: str | None) -> str | None:
    """A short text field of a response (model, finish reason): ``default`` when absent,
    valid text bounded in length, or CallFault(invalid_response) when it is not text."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise CallFault("invalid_response", f"{name} is not text: {_shown(value)}")
    return valid_text(value[:MAX_NAME_CHARS])


def stream_error(data: bytes, chunk: Mapping[str, Any] | None = None) -> CallFault:
    """The fault an error inside a 200 stream reports: ``event: error`` (Anthropic) or a
    chunk ``{"error": {...}}`` (vLLM, proxies). Its ``code``/``status`` gives the class
    when it is an HTTP status; otherwise it is a ``server_error``."""
    error: Any = chunk.get("error") if chunk is not None else None
    if error is None:
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            parsed = None
        error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
    message: Any = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        message = data.decode("utf-8", "replace").strip()[:200] or "(no message)"
    code = None
    if isinstance(error, dict):
        code = next(
            (c for c in (error.get("code"), error.get("status")) if isinstance(c, int)), None
        )
    status = code if code is not None and 400 <= code <= 599 else None
    cls = class_for_status(status) if status is not None else "server_error"
    return CallFault(cls, f"error inside the response stream: {message}", status)
