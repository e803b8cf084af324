"""The OpenAI wire format: Chat Completions requests, responses and stream chunks.

Covers every OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp
server, LM Studio, LiteLLM proxy). The HTTP machinery (timed connections, bounded reads,
faults, server-sent events) is ``wire``'s; this module only builds the request body and
reads the response, and registers the ``openai`` provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion
from pytest_llmguard.targets.endpoints import HttpEndpoints, SessionClient
from pytest_llmguard.targets.wire import (
    MAX_BODY_BYTES,
    SSEDecoder,
    SSEEvent,
    http_fault,
    json_object,
    read_bounded,
    sent_at,
    stream_error,
    text_field,
    token_count,
    usage_object,
    valid_text,
    wire_ms,
)

if TYPE_CHECKING:
    import aiohttp

    from pytest_llmguard.targets.registry import Problem, ProviderContext

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIClient(SessionClient):
    """Calls ``{base_url}/chat/completions``; streaming when the target sets ``stream``."""

    def __init__(self, config: TargetConfig, **options: Any) -> None:
        super().__init__(config, **options)
        self._url = self._base_url.rstrip("/") + "/chat/completions"
        api_version = config.extra.get("api_version")
        if api_version:  # Azure OpenAI
            self._url += f"?api-version={api_version}"
        headers = {"content-type": "application/json", "accept": "application/json"}
        api_key = self._api_key
        if api_key:
            if config.extra.get("auth_header") == "api-key":
                headers["api-key"] = api_key
            else:
                headers["authorization"] = f"Bearer {api_key}"
        headers.update(config.headers)
        self._headers = headers

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

    async def complete(self, case: Case) -> Completion:
        payload = json.dumps(self.request_body(case), separators=(",", ":")).encode()
        session = self._session_now()
        t0 = time.perf_counter()
        # Redirects are not followed: the key must not go to whatever host one names.
        async with session.post(self._url, data=payload, allow_redirects=False) as resp:
            # Read now: once this body is read, the connection may carry another request.
            sent = sent_at(resp, t0)
            if resp.status >= 300:
                raise await http_fault(resp, (self._api_key,) if self._api_key else ())
            if self._config.stream:
                return await self._read_stream(resp, sent)
            raw = await read_bounded(resp, MAX_BODY_BYTES)
            latency_ms = wire_ms(resp, sent)
        completion = parse_completion(raw, self._config.model)
        return replace(completion, latency_ms=latency_ms)

    async def _read_stream(self, resp: aiohttp.ClientResponse, t0: float) -> Completion:
        stream = _Stream(self._config.model)
        decoder = SSEDecoder(MAX_BODY_BYTES)
        async for raw_line in resp.content:
            event = decoder.feed(raw_line)
            if event is not None and stream.take(event, resp, t0):
                break
        else:
            last = decoder.end()
            if last is not None:
                stream.take(last, resp, t0)
        if not stream.done:
            raise CallFault("invalid_response", "stream ended before [DONE] (truncated)")
        if stream.finish is None:
            # llama-cpp-python's interrupt_requests cuts a running stream this way when
            # another request arrives: a few chunks, then [DONE]. Not a short answer.
            raise CallFault(
                "invalid_response",
                f"stream ended without a finish_reason after {len(stream.parts)} content "
                "chunk(s) (truncated: the server cut it short)",
            )
        latency_ms = wire_ms(resp, t0)
        return Completion(
            output=valid_text("".join(stream.parts)),
            model=stream.model,
            ttft_ms=stream.ttft_ms,
            latency_ms=latency_ms,
            finish_reason=stream.finish,
            **_usage(stream.usage),
        )


class _Stream:
    """What a Chat Completions stream said so far (event names are not used by it)."""

    __slots__ = ("done", "finish", "model", "parts", "ttft_ms", "usage")

    def __init__(self, model: str) -> None:
        self.parts: list[str] = []
        self.ttft_ms: float | None = None
        self.usage: Mapping[str, Any] = {}
        self.model = model
        self.finish: str | None = None
        self.done = False

    def take(self, event: SSEEvent, resp: aiohttp.ClientResponse, t0: float) -> bool:
        """Take one event; True at ``[DONE]``."""
        data = event.data.strip()
        if data == b"[DONE]":
            self.done = True
            return True
        if event.event == "error":
            raise stream_error(data)
        chunk = json_object(data, "stream chunk")
        if chunk.get("error") is not None:
            raise stream_error(data, chunk)
        self.model = text_field(chunk.get("model"), "stream chunk model", self.model) or ""
        if chunk.get("usage") is not None:
            self.usage = usage_object(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            if piece:
                if self.ttft_ms is None:
                    self.ttft_ms = wire_ms(resp, t0)
                self.parts.append(piece)
            self.finish = text_field(choice.get("finish_reason"), "finish_reason", self.finish)
        return False


def parse_completion(raw: bytes, requested_model: str) -> Completion:
    """A Chat Completions response body → Completion, or CallFault(invalid_response)."""
    body = json_object(raw, "response body")
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
    content = valid_text(content)
    return Completion(
        output=content,
        model=text_field(body.get("model"), "model", requested_model) or "",
        finish_reason=text_field(first.get("finish_reason"), "finish_reason", None),
        **_usage(usage_object(body.get("usage"))),
    )


def _usage(usage: Mapping[str, Any]) -> dict[str, int | None]:
    """Token counts, each validated: a count that is not one is an invalid response."""
    prompt_details = usage_object(usage.get("prompt_tokens_details"), "prompt_tokens_details")
    completion = usage_object(usage.get("completion_tokens_details"), "completion_tokens_details")
    return {
        "input_tokens": token_count(usage.get("prompt_tokens"), "prompt_tokens"),
        "output_tokens": token_count(usage.get("completion_tokens"), "completion_tokens"),
        "cached_tokens": token_count(prompt_details.get("cached_tokens"), "cached_tokens"),
        "reasoning_tokens": token_count(completion.get("reasoning_tokens"), "reasoning_tokens"),
    }


@dataclass(frozen=True, slots=True)
class OpenAIProvider:
    """``provider: openai``: any OpenAI-compatible endpoint, nothing to start."""

    name: str = "openai"
    config_keys: tuple[str, ...] = ("api_version", "auth_header")
    default_key_env: str | None = "OPENAI_API_KEY"
    default_base_url: str | None = DEFAULT_BASE_URL

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        return None

    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> AbstractContextManager[HttpEndpoints]:
        urls = {name: t.base_url or DEFAULT_BASE_URL for name, t in targets.items()}
        return nullcontext(HttpEndpoints(urls, context.run, OpenAIClient.for_target))


PROVIDER = OpenAIProvider()
