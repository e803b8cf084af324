"""The Anthropic Messages API on the simulator's side: requests, answers, streams, errors.

``MessagesCall`` is the Chat Completions call (``chat.ChatCall``) with the Messages API's
shapes, so the fault responders that only cut or delay a response work on either API.
See ``anthropic`` for the route's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.answers import refused
from pytest_llmguard.sim.chat import (
    _MAX_TIMED_WRITES,
    _PIECE,
    SSE_HEAD,
    ChatCall,
    EventEncoder,
    Step,
)
from pytest_llmguard.sim.http import Request, chunk, response
from pytest_llmguard.sim.request_body import ChatRequest, json_object

ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_MESSAGES = {
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "overloaded_error": "Overloaded",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "The requested resource was not found.",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "invalid_request_error": "Invalid request (injected by x-sim-fault).",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def error_body(error_type: str, message: str) -> bytes:
    """An Anthropic error document."""
    error = {"type": error_type, "message": message}
    return payloads.dumps({"type": "error", "error": error, "request_id": "req_sim"})


def error_response(status: int, message: str | None = None, **options: Any) -> bytes:
    error_type = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return response(status, error_body(error_type, message or _MESSAGES[error_type]), **options)


def event(name: str, data: bytes) -> bytes:
    """One named server-sent event."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class MessagesCall(ChatCall):
    """One Messages API request: the Chat Completions call with Anthropic's shapes.

    ``prompt_tokens`` counts every input token, ``cached_tokens`` the cache reads and
    ``cache_write`` the cache writes (the wire's ``input_tokens`` is what is left).
    """

    __slots__ = ("cache_write",)
    cache_write: int

    def usage(self, *, output_tokens: int | None = None) -> dict[str, int]:
        written, read = self.cache_write, self.cached_tokens
        return {
            "input_tokens": max(0, self.prompt_tokens - read - written),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": self.completion.completion_tokens
            if output_tokens is None
            else output_tokens,
        }

    def stop_reason(self) -> str:
        if refused(self.completion.content):
            return "refusal"
        return _STOP_REASONS.get(self.completion.finish_reason, "end_turn")

    def body_object(self) -> dict[str, Any]:
        return {
            "id": self.cid,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [{"type": "text", "text": self.completion.content}],
            "stop_reason": self.stop_reason(),
            "stop_sequence": None,
            "usage": self.usage(),
        }

    def body(self) -> bytes:
        return payloads.dumps(self.body_object())

    def events(self) -> list[list[tuple[str, dict[str, Any]]]]:
        """Stream events grouped by timed write: at once, at TTFT, ..., at the end."""
        message = {**self.body_object(), "content": [], "stop_reason": None}
        message["usage"] = self.usage(output_tokens=1)
        opening: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": message}),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": text_block("")},
            ),
            ("ping", {"type": "ping"}),
        ]
        pieces = _PIECE.findall(self.completion.content) or [""]
        groups: list[list[tuple[str, dict[str, Any]]]] = [opening, [delta_event(pieces[0])]]
        rest = pieces[1:]
        per_write = max(1, -(-len(rest) // _MAX_TIMED_WRITES))
        for i in range(0, len(rest), per_write):
            groups.append([delta_event(p) for p in rest[i : i + per_write]])
        delta = {"stop_reason": self.stop_reason(), "stop_sequence": None}
        groups.append(
            [
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": delta,
                        "usage": {"output_tokens": self.completion.completion_tokens},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        )
        return groups

    def stream_plan(
        self, encode: EventEncoder = payloads.dumps, *, done: bool = True
    ) -> list[Step]:
        """Timed writes of the SSE stream (head included, chunked framing applied);
        without ``done`` the ``message_stop`` event is left out."""
        groups = self.events()
        if not done:
            groups[-1] = groups[-1][:-1]
        spread = self.latency_s - self.ttft_s
        last = len(groups) - 1
        steps: list[Step] = []
        for i, group in enumerate(groups):
            at = 0.0 if i == 0 else self.ttft_s + spread * (i - 1) / max(last - 1, 1)
            steps.append((at, chunk(b"".join(event(name, encode(obj)) for name, obj in group))))
        steps[0] = (0.0, SSE_HEAD + steps[0][1])
        return steps


def text_block(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def delta_event(piece: str) -> tuple[str, dict[str, Any]]:
    delta = {"type": "text_delta", "text": piece}
    return ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})


# -- requests --------------------------------------------------------------------------


def messages_request(req: Request) -> ChatRequest:
    """Validate a Messages request; its messages normalised to ``{role, content}`` (the
    system prompt first), so a case has the same prompt hash through either API."""
    if not req.headers.get("anthropic-version"):
        raise ValueError("anthropic-version: header is required")
    body = json_object(req.body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("model: Field required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens: Field required (an integer >= 1)")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("stream: Input should be a valid boolean")
    system = _system_text(body.get("system"))
    messages: list[dict[str, str]] = [] if system is None else [_plain("system", system)]
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ValueError("messages: at least one message is required")
    last_user = ""
    for index, message in enumerate(raw):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise ValueError(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        for text in _block_texts(message.get("content"), f"messages.{index}.content"):
            messages.append(_plain(role, text))
            last_user = text if role == "user" else last_user
    texts = tuple(m["content"] for m in messages)
    return ChatRequest(model, messages, texts, last_user, system, max_tokens, stream, True)


def _plain(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


def _system_text(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return system or None
    return "".join(_block_texts(system, "system")) or None


def _block_texts(content: Any, where: str) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise ValueError(f"{where}: Input should be a valid string or a list of content blocks")
    texts = [b.get("text") for b in content if b.get("type") == "text"]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError(f"{where}: a text block needs a string 'text'")
    return [str(t) for t in texts]
