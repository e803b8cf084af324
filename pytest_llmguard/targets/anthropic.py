"""The Anthropic Messages API: ``POST /v1/messages``, plain and streaming.

The request: the case's system messages become the top-level ``system`` prompt, the
other messages become ``user``/``assistant`` turns of text content blocks (consecutive
messages of one role are one turn), ``max_tokens`` is always sent (it is required;
``DEFAULT_MAX_TOKENS`` unless the target's or the case's params set it), with the
``anthropic-version`` and ``x-api-key`` headers.

The response: the text blocks' text (tool calls as JSON when there is no text),
``stop_reason`` as the finish reason (``refusal`` scores as a refusal), and usage the
OpenTelemetry way: Anthropic's ``input_tokens`` excludes the prompt cache, so the input
reported here is ``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``,
with the reads as ``cached_tokens`` and the writes as ``cache_write_tokens`` (each billed
at its own price).

Streaming (``stream: true``) reads the server-sent events ``message_start``,
``content_block_start``/``_delta``/``_stop``, ``message_delta`` (whose usage is
cumulative: the latest value of each count wins), ``message_stop`` and ``ping``; time
to first token is the first text delta. An ``error`` event, which can arrive after the
200, is classified as its HTTP twin would be (``overloaded_error`` as 529, a retryable
``server_error``). A stream that ends before ``message_stop`` is ``invalid_response``.

Errors have the shape ``{"type": "error", "error": {"type": ..., "message": ...}}``:
the message says ``HTTP 529: overloaded_error: Overloaded``; 429 is ``rate_limit`` with
its ``retry-after``, 500/529 (and the other 5xx) are ``server_error``, other 4xx
``client_error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.faults import CallFault, class_for_status
from pytest_llmguard.records import Case, Message
from pytest_llmguard.targets.base import Completion
from pytest_llmguard.targets.endpoints import HttpEndpoints, SessionClient
from pytest_llmguard.targets.registry import Problem, ProviderContext
from pytest_llmguard.targets.wire import (
    SSEEvent,
    error_message,
    feed_events,
    int_or_none,
    json_object,
    valid_text,
    wire_ms,
)

if TYPE_CHECKING:
    import aiohttp

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
# The HTTP status of each error type (platform.claude.com/docs/en/api/errors): an
# ``error`` event in a stream is classified as that status would be. An unknown type
# is taken for a server-side failure.
ERROR_STATUS: Mapping[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def messages_url(base_url: str) -> str:
    """``{base_url}/v1/messages``; a base URL that already ends in ``/v1`` is kept as is
    (the SDKs' base URL has no ``/v1``, an OpenAI-style one has)."""
    base = base_url.rstrip("/")
    return base + ("/messages" if base.endswith("/v1") else "/v1/messages")


class AnthropicClient(SessionClient):
    """Calls ``/v1/messages``; streaming when the target sets ``stream``."""

    def __init__(self, config: TargetConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self._url = messages_url(self._base_url)
        self._headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": str(config.extra.get("anthropic_version") or API_VERSION),
        }
        if self._api_key:
            self._headers["x-api-key"] = self._api_key
        self._headers.update(config.headers)

    def request_body(self, case: Case) -> dict[str, Any]:
        """The JSON body: target params, overridden by the case's (set's) params."""
        system, turns = split_messages(case.messages)
        body: dict[str, Any] = {
            "model": self._config.model,
            "max_tokens": DEFAULT_MAX_TOKENS,
            "messages": turns,
        }
        if system is not None:
            if self._config.extra.get("cache_system"):
                cached = {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
                body["system"] = [cached]
            else:
                body["system"] = system
        params = {**self._config.params, **case.params}
        if "max_completion_tokens" in params:  # the OpenAI name, as golden sets may use it
            params.setdefault("max_tokens", params["max_completion_tokens"])
            del params["max_completion_tokens"]
        body.update(params)
        if self._config.stream:
            body["stream"] = True
        return body

    def request_identity(self, case: Case) -> dict[str, Any]:
        return {
            "provider": self._config.provider,
            "url": self._url,
            "version": self._headers["anthropic-version"],
            "body": self.request_body(case),
        }

    async def complete(self, case: Case) -> Completion:
        payload = json.dumps(self.request_body(case), separators=(",", ":")).encode()
        return await self.exchange(
            "POST",
            self._url,
            data=payload,
            parse=lambda raw: parse_message(raw, self._config.model),
            read_stream=self._read_stream,
            describe=error_text,
        )

    async def _read_stream(self, resp: aiohttp.ClientResponse, t0: float) -> Completion:
        stream = _Stream(self._config.model)
        await feed_events(resp, lambda event: stream.take(event, resp, t0))
        if not stream.done:
            raise CallFault("invalid_response", "stream ended before message_stop (truncated)")
        return Completion(
            output=valid_text(stream.text()),
            model=stream.model,
            ttft_ms=stream.ttft_ms,
            latency_ms=wire_ms(resp, t0),
            finish_reason=stream.stop_reason,
            **usage_counts(stream.usage),
        )


def split_messages(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """The system prompt (system/developer messages joined) and the conversation turns."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role in ("system", "developer"):
            system.append(message.content)
            continue
        block = {"type": "text", "text": message.content}
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"].append(block)
        else:
            turns.append({"role": message.role, "content": [block]})
    return ("\n\n".join(system) if system else None), turns


def parse_message(raw: bytes, requested_model: str) -> Completion:
    """A Messages API response body → Completion, or CallFault(invalid_response)."""
    body = json_object(raw, "response body")
    if body.get("type") == "error":
        raise error_fault(body.get("error"), "error body with HTTP 200")
    content = body.get("content")
    if not isinstance(content, list):
        raise CallFault("invalid_response", "response has no 'content' list")
    usage = body.get("usage")
    stop_reason = body.get("stop_reason")
    return Completion(
        output=valid_text(content_text(content)),
        model=str(body.get("model") or requested_model),
        finish_reason=stop_reason if isinstance(stop_reason, str) else None,
        **usage_counts(usage if isinstance(usage, dict) else {}),
    )


def content_text(blocks: Sequence[Any]) -> str:
    """The text blocks' text; without any, the tool calls as JSON (else empty)."""
    if not all(isinstance(b, dict) for b in blocks):
        raise CallFault("invalid_response", "'content' holds something other than blocks")
    texts = [b.get("text") for b in blocks if b.get("type") == "text"]
    if texts:
        return "".join(t for t in texts if isinstance(t, str))
    tools = [
        {"name": b.get("name"), "input": b.get("input")}
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    return json.dumps(tools, sort_keys=True) if tools else ""


def usage_counts(usage: Mapping[str, Any]) -> dict[str, int | None]:
    """Completion's token fields from Anthropic usage (input includes the prompt cache)."""
    plain = int_or_none(usage.get("input_tokens"))
    read = int_or_none(usage.get("cache_read_input_tokens"))
    written = int_or_none(usage.get("cache_creation_input_tokens"))
    return {
        "input_tokens": None if plain is None else plain + (read or 0) + (written or 0),
        "output_tokens": int_or_none(usage.get("output_tokens")),
        "cached_tokens": read,
        "cache_write_tokens": written,
    }


def error_text(text: str) -> str:
    """``type: message`` of an Anthropic error body, else the usual error message."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("type"), str):
        return f"{error['type']}: {error.get('message', '')}"
    return error_message(text)


def error_fault(error: Any, where: str) -> CallFault:
    """The fault of an error object that arrived with a 200 (a stream event, a body)."""
    kind = error.get("type") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    status = ERROR_STATUS.get(kind, 500) if isinstance(kind, str) else 500
    return CallFault(class_for_status(status), f"{where}: {kind}: {message}")


class _Stream:
    """What a Messages stream said so far."""

    __slots__ = ("done", "model", "parts", "stop_reason", "tools", "ttft_ms", "usage")

    def __init__(self, model: str) -> None:
        self.parts: list[str] = []
        self.tools: dict[Any, tuple[Any, list[str]]] = {}  # block index -> (name, input JSON)
        self.ttft_ms: float | None = None
        self.usage: dict[str, Any] = {}
        self.model = model
        self.stop_reason: str | None = None
        self.done = False

    def take(self, event: SSEEvent, resp: aiohttp.ClientResponse, t0: float) -> bool:
        """Take one event; True at ``message_stop``."""
        data = json_object(event.data, "stream event")
        kind = data.get("type") or event.event
        if kind == "content_block_delta":  # nearly every event
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                self._text(delta.get("text"), resp, t0)
            elif delta.get("type") == "input_json_delta" and data.get("index") in self.tools:
                self.tools[data.get("index")][1].append(str(delta.get("partial_json") or ""))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "text":
                self._text(block.get("text"), resp, t0)
            elif block.get("type") == "tool_use":
                self.tools[data.get("index")] = (block.get("name"), [])
        elif kind in ("message_start", "message_delta"):
            message = (data.get("message") or {}) if kind == "message_start" else data
            self.model = str(message.get("model") or self.model)
            stop = (data.get("delta") or {}).get("stop_reason")
            self.stop_reason = stop if isinstance(stop, str) else self.stop_reason
            usage = message.get("usage")
            if isinstance(usage, dict):  # cumulative: each count's latest value wins
                self.usage.update((k, v) for k, v in usage.items() if v is not None)
        elif kind == "message_stop":
            self.done = True
            return True
        elif kind == "error":
            raise error_fault(data.get("error"), "stream error event")
        # ping, content_block_stop and event types added later: nothing to take
        return False

    def _text(self, piece: Any, resp: aiohttp.ClientResponse, t0: float) -> None:
        if isinstance(piece, str) and piece:
            if self.ttft_ms is None:
                self.ttft_ms = wire_ms(resp, t0)
            self.parts.append(piece)

    def text(self) -> str:
        if self.parts or not self.tools:
            return "".join(self.parts)
        calls = []
        for name, pieces in self.tools.values():
            try:
                arguments = json.loads("".join(pieces) or "{}")
            except ValueError:
                raise CallFault("invalid_response", "a streamed tool call is not JSON") from None
            calls.append({"name": name, "input": arguments})
        return json.dumps(calls, sort_keys=True)


@dataclass(frozen=True, slots=True)
class AnthropicProvider:
    """``provider: anthropic``: the Messages API, nothing to start."""

    name: str = "anthropic"
    config_keys: tuple[str, ...] = ("anthropic_version", "cache_system")
    default_key_env: str | None = "ANTHROPIC_API_KEY"
    default_base_url: str | None = DEFAULT_BASE_URL

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        max_tokens = target.params.get("max_tokens")
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            return Problem(
                f"params.max_tokens must be a whole number >= 1, got {max_tokens!r}",
                key="params",
                hint=f"the Messages API requires it; without it {DEFAULT_MAX_TOKENS} is sent",
            )
        return None

    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> AbstractContextManager[HttpEndpoints]:
        urls = {name: t.base_url or DEFAULT_BASE_URL for name, t in targets.items()}
        return nullcontext(
            HttpEndpoints(urls, context.run, AnthropicClient.for_target, embeddings=False)
        )


PROVIDER = AnthropicProvider()
