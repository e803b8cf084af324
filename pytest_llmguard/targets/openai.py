"""OpenAI-compatible Chat Completions over aiohttp (OpenAI, Azure, vLLM, Ollama, llama.cpp...).

aiohttp rather than httpx's default transport on the hot path: at 64 concurrent requests
httpx's pool spent ~7 ms of CPU per request on this class of machine, aiohttp ~0.2 ms.
aiohttp is imported when the first request is sent, so a cached replay never loads it
(about 0.3 s of start-up, a third of it building TLS contexts).

Latency is timed here, around the request on the wire: from just before the (already
encoded) request is handed to the connection until the event loop received the last
bytes of the response, stamped in the connection's ``data_received`` (not when this
coroutine next runs). With 64 replies landing together, a coroutine-side clock reports
the time to work through the burst as model latency; the protocol-side one does not.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.faults import CallFault, class_for_status, parse_retry_after, scrub
from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion

if TYPE_CHECKING:
    import aiohttp

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_ERROR_BODY_BYTES = 16 * 1024
_READ_CHUNK = 64 * 1024


class OpenAIClient:
    """Calls ``{base_url}/chat/completions``; streaming when the target sets ``stream``."""

    def __init__(
        self,
        config: TargetConfig,
        *,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        max_connections: int,
    ) -> None:
        self._config = config
        self._url = base_url.rstrip("/") + "/chat/completions"
        api_version = config.extra.get("api_version")
        if api_version:  # Azure OpenAI
            self._url += f"?api-version={api_version}"
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            if config.extra.get("auth_header") == "api-key":
                headers["api-key"] = api_key
            else:
                headers["authorization"] = f"Bearer {api_key}"
        headers.update(config.headers)
        self._headers = headers

    @property
    def config(self) -> TargetConfig:
        return self._config

    def request_body(self, case: Case) -> dict[str, Any]:
        """The JSON body: target params, overridden by the case's (set's) params."""
        body: dict[str, Any] = {
            "model": self._config.model,
            "messages": [m.to_dict() for m in case.messages],
        }
        body.update(self._config.params)
        body.update(case.params)
        if self._config.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def request_identity(self, case: Case) -> dict[str, Any]:
        return {
            "provider": self._config.provider,
            "url": self._url,
            "body": self.request_body(case),
        }

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            import aiohttp

            # One connection per concurrent call, so no call waits for a pooled
            # connection inside the timed region.
            connector = _timed_connector(self._max_connections)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                headers=self._headers,
            )
        return self._session

    def prepare(self) -> None:
        self._session_now()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def complete(self, case: Case) -> Completion:
        payload = json.dumps(self.request_body(case), separators=(",", ":")).encode()
        session = self._session_now()
        t0 = time.perf_counter()
        async with session.post(self._url, data=payload) as resp:
            # Read now: once this body is read, the connection may carry another request.
            sent = _sent_at(resp, t0)
            if resp.status >= 400:
                raise await self._http_fault(resp)
            if self._config.stream:
                return await self._read_stream(resp, sent)
            raw = await _read_bounded(resp, MAX_BODY_BYTES)
            latency_ms = _wire_ms(resp, sent)
        completion = parse_completion(raw, self._config.model)
        return replace(completion, latency_ms=latency_ms)

    async def _http_fault(self, resp: aiohttp.ClientResponse) -> CallFault:
        import aiohttp

        try:
            text = (await resp.content.read(MAX_ERROR_BODY_BYTES)).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError):
            text = ""
        detail = _error_message(text) or resp.reason or ""
        secrets = (self._api_key,) if self._api_key else ()
        return CallFault(
            class_for_status(resp.status),
            scrub(f"HTTP {resp.status}: {detail}", secrets),
            resp.status,
            parse_retry_after(resp.headers.get("retry-after")),
        )

    async def _read_stream(self, resp: aiohttp.ClientResponse, t0: float) -> Completion:
        parts: list[str] = []
        ttft_ms: float | None = None
        usage: Mapping[str, Any] = {}
        model = self._config.model
        finish: str | None = None
        size = 0
        done = False
        async for raw_line in resp.content:
            size += len(raw_line)
            if size > MAX_BODY_BYTES:
                raise CallFault("invalid_response", f"stream larger than {MAX_BODY_BYTES} bytes")
            line = raw_line.strip()
            if not line.startswith(b"data:"):
                continue  # comments, event names, keep-alives
            data = line[5:].strip()
            if data == b"[DONE]":
                done = True
                break
            chunk = _json_object(data, "stream chunk")
            model = chunk.get("model") or model
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                piece = delta.get("content")
                if piece:
                    if ttft_ms is None:
                        ttft_ms = _wire_ms(resp, t0)
                    parts.append(piece)
                finish = choice.get("finish_reason") or finish
        if not done:
            raise CallFault("invalid_response", "stream ended before [DONE] (truncated)")
        latency_ms = _wire_ms(resp, t0)
        return Completion(
            output=_valid_text("".join(parts)),
            model=model,
            ttft_ms=ttft_ms,
            latency_ms=latency_ms,
            finish_reason=finish,
            **_usage(usage),
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


def _timed_connector(limit: int) -> aiohttp.TCPConnector:
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
    # that, keep its factory and time on the coroutine side (_wire_ms falls back).
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        connector._factory = functools.partial(  # type: ignore[assignment]
            TimedResponseHandler, *factory.args, **factory.keywords
        )
    return connector


def _sent_at(resp: aiohttp.ClientResponse, t0: float) -> float:
    """When the request was written (call as soon as the response starts), else ``t0``."""
    stamp = getattr(getattr(resp, "_protocol", None), "sent_at", None)
    return stamp if isinstance(stamp, float) and t0 <= stamp <= time.perf_counter() else t0


def _arrived(resp: aiohttp.ClientResponse, sent: float) -> float:
    """When the response's latest bytes reached the event loop (now, if that is unknown)."""
    now = time.perf_counter()
    stamp = getattr(getattr(resp, "_protocol", None), "received_at", None)
    return stamp if isinstance(stamp, float) and sent < stamp <= now else now


def _wire_ms(resp: aiohttp.ClientResponse, sent: float) -> float:
    """From the request's write to when its last bytes reached the event loop, in ms."""
    return (_arrived(resp, sent) - sent) * 1000.0


async def _read_bounded(resp: aiohttp.ClientResponse, limit: int) -> bytes:
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


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CallFault("invalid_response", f"{what} is not valid UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise CallFault(
            "invalid_response", f"{what} is not valid JSON: {exc.msg} at {exc.pos}"
        ) from None
    if not isinstance(value, dict):
        raise CallFault("invalid_response", f"{what} is JSON {type(value).__name__}, not an object")
    return value


def parse_completion(raw: bytes, requested_model: str) -> Completion:
    """A Chat Completions response body → Completion, or CallFault(invalid_response)."""
    body = _json_object(raw, "response body")
    choices = body.get("choices")
    if not isinstance(choices, list):
        raise CallFault("invalid_response", "response has no 'choices' list")
    if not choices:
        raise CallFault("invalid_response", "response has an empty 'choices' list")
    first = choices[0] if isinstance(choices[0], dict) else {}
    message = first.get("message")
    if not isinstance(message, dict):
        raise CallFault("invalid_response", "choices[0] has no 'message' object")
    content = message.get("content")
    if content is None and message.get("tool_calls"):
        content = json.dumps(message["tool_calls"], sort_keys=True)
    if not isinstance(content, str):
        raise CallFault("invalid_response", "choices[0].message.content is not a string")
    content = _valid_text(content)
    usage = body.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    return Completion(
        output=content,
        model=str(body.get("model") or requested_model),
        finish_reason=first.get("finish_reason"),
        **_usage(usage),
    )


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(text: str) -> str:
    """``text`` with lone surrogates (JSON escapes like ``\\ud800``) made U+FFFD.

    Such a string cannot be written as UTF-8: left in, it would fail the report at the
    end of the run (or the call child's pipe) instead of showing up as odd output.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _usage(usage: Mapping[str, Any]) -> dict[str, int | None]:
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": _int_or_none(usage.get("prompt_tokens")),
        "output_tokens": _int_or_none(usage.get("completion_tokens")),
        "cached_tokens": _int_or_none(prompt_details.get("cached_tokens")),
        "reasoning_tokens": _int_or_none(completion_details.get("reasoning_tokens")),
    }


def _error_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
    return text.strip()[:200]
