"""The model behind the bot: any OpenAI-compatible Chat Completions endpoint, via httpx.

Failures are the application's own exception types (what a real app would raise and log);
``llmguard.yaml`` maps them to pytest-llmguard's error classes under ``errors:``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpcore  # noqa: F401  httpx imports it with the first client: not in a timed call
import httpx

# Built once, at import: a TLS context costs 0.1-0.25 s to build, which would otherwise
# land in the latency of the first call of each client.
_TLS = ssl.create_default_context()


class ModelError(Exception):
    """The model could not answer (``status_code``: the HTTP status, when there was one)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Unreachable(ModelError):
    """No connection, or it broke before the answer was complete."""


class RateLimited(ModelError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after  # read by pytest-llmguard's retries


class ServerError(ModelError):
    """A 5xx from the endpoint."""


class BadResponse(ModelError):
    """The endpoint answered something that is not a chat completion."""


@dataclass(frozen=True)
class Reply:
    text: str
    model: str
    usage: Mapping[str, Any] = field(default_factory=dict)


class ChatModel:
    """``complete(messages)`` against ``{base_url}/chat/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        stream: bool = False,
    ) -> None:
        self.model = model
        self.stream = stream
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._http = httpx.Client(headers=dict(headers or {}), timeout=timeout_s, verify=_TLS)

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 200) -> Reply:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens}
        if self.stream:
            body.update(stream=True, stream_options={"include_usage": True})
        try:
            with self._http.stream("POST", self._url, json=body) as response:
                _raise_for_status(response)
                return self._read_stream(response) if self.stream else self._read(response)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"the model did not answer in time: {exc}") from None
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from None

    def _read(self, response: httpx.Response) -> Reply:
        try:
            body = json.loads(response.read())
            text = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BadResponse(f"not a chat completion: {type(exc).__name__}") from None
        return Reply(str(text), str(body.get("model") or self.model), body.get("usage") or {})

    def _read_stream(self, response: httpx.Response) -> Reply:
        parts: list[str] = []
        usage: Mapping[str, Any] = {}
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return Reply("".join(parts), self.model, usage)
            try:
                chunk = json.loads(data)
            except ValueError:
                raise BadResponse("a stream chunk is not JSON") from None
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                parts.append((choice.get("delta") or {}).get("content") or "")
        raise BadResponse("the stream ended without [DONE]")


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    response.read()
    message = f"HTTP {response.status_code}: {response.text[:200]}"
    if response.status_code == 429:
        try:
            seconds: float | None = float(response.headers.get("retry-after", ""))
        except ValueError:
            seconds = None  # absent, or an HTTP date
        raise RateLimited(message, seconds)
    if response.status_code >= 500:
        raise ServerError(message, response.status_code)
    raise ModelError(message, response.status_code)
