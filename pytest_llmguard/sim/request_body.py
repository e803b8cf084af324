"""Validating OpenAI request bodies; errors are ValueError with the message a client sees."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


class ChatRequest(NamedTuple):
    """The parts of a ``/v1/chat/completions`` body the simulator uses.

    A NamedTuple rather than a frozen dataclass: built on every request, and frozen
    dataclass construction costs several times more.
    """

    model: str
    messages: Sequence[Any]
    texts: tuple[str, ...]  # text of each message, in order
    last_user: str
    system: str | None
    max_tokens: int | None
    stream: bool
    include_usage: bool


_decode = json.JSONDecoder().decode


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    """The parts of a ``/v1/embeddings`` body the simulator uses."""

    model: str
    inputs: tuple[str, ...]
    dimensions: int


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object."""
    try:
        value = _decode(body.decode())
    except ValueError:  # UnicodeDecodeError included
        raise ValueError(
            "We could not parse the JSON body of your request. (HINT: This likely means you"
            " aren't using your HTTP library correctly.)"
        ) from None
    if not isinstance(value, dict):
        raise ValueError("The request body must be a JSON object.")
    return value


def chat_request(body: Mapping[str, Any]) -> ChatRequest:
    """Validate a chat completion body."""
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty array of message objects.")
    texts: list[str] = []
    last_user: str | None = None
    system: str | None = None
    for index, message in enumerate(messages):
        text = _message_text(index, message)
        texts.append(text)
        role = message["role"]
        if role == "user":
            last_user = text
        elif system is None and role in ("system", "developer"):
            system = text
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("'stream' must be a boolean.")
    options = body.get("stream_options") or {}
    return ChatRequest(
        model=model,
        messages=messages,
        texts=tuple(texts),
        last_user=texts[-1] if last_user is None else last_user,
        system=system,
        max_tokens=_max_tokens(body),
        stream=stream,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )


def embeddings_request(body: Mapping[str, Any]) -> EmbeddingsRequest:
    """Validate an embeddings body."""
    model = _model(body)
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise ValueError("'input' must be a string or a non-empty array of strings.")
    dimensions = body.get("dimensions", 256)
    if not _is_int(dimensions) or not 1 <= dimensions <= 4096:
        raise ValueError("'dimensions' must be an integer between 1 and 4096.")
    return EmbeddingsRequest(model, tuple(inputs), dimensions)


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ValueError("you must provide a model parameter")
    return model


def _message_text(index: int, message: Any) -> str:
    if type(message) is not dict or type(message.get("role")) is not str:
        raise ValueError(f"messages[{index}] must be an object with a string 'role'.")
    content = message.get("content")
    if type(content) is str:
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    raise ValueError(f"messages[{index}].content must be a string or an array of parts.")


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not _is_int(value) or value < 1:
            raise ValueError(f"'{key}' must be an integer >= 1.")
        return int(value)
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
