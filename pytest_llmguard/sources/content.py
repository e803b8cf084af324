"""The shapes logs share, read one way: chat messages, response text, numbers, errors,
feedback, replayable request parameters.

Every format ends up holding OpenAI-style chat content somewhere (a Chat Completions
request's ``messages``, a Langfuse generation's ``input``, LiteLLM's ``messages``), with
the same variations: content as a string, as a list of parts (``{"type": "text", "text":
...}``), or absent on a tool call. These functions read all of them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from pytest_llmguard.config.records import FeedbackConfig
from pytest_llmguard.records import Message
from pytest_llmguard.sources.record import Feedback

__all__ = [
    "ROLES",
    "chat_messages",
    "count",
    "feedback_of",
    "is_feedback",
    "json_value",
    "label",
    "ms_between",
    "number",
    "replay_params",
    "response_text",
    "text",
]

# A logged role, as the golden-set schema knows it (system, user, assistant, tool).
ROLES = {
    "system": "system",
    "developer": "system",  # OpenAI's newer name for system instructions
    "instructions": "system",
    "user": "user",
    "human": "user",
    "customer": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "model": "assistant",
    "bot": "assistant",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}
# Request parameters that change the answer, so a replay sends them again.
REPLAYED_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "response_format",
    "reasoning_effort",
)


def text(value: Any) -> str | None:
    """Text content: a string, or the text parts of a content list joined; else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "content", "value"):
            found = value.get(key)
            if isinstance(found, str):
                return found
        return None
    if isinstance(value, (list, tuple)):
        parts = [t for t in (text(part) for part in value) if t is not None]
        return "".join(parts) if parts else None
    return None


def role_of(value: Any) -> str | None:
    return ROLES.get(value.strip().lower()) if isinstance(value, str) else None


def chat_messages(value: Any) -> tuple[Message, ...] | None:
    """The conversation of a request: a list of ``{role, content}``, ``{"messages": [...]}``,
    one message, or a plain prompt string (one user message). None if it is none of them.

    A message without text (an assistant's tool call) keeps an empty content; a message
    in a role the replay cannot send (``tool``'s results are kept as ``tool``) is kept.
    """
    if isinstance(value, str):
        return (Message("user", value),) if value.strip() else None
    if isinstance(value, dict):
        inner = value.get("messages")
        if inner is not None:
            return chat_messages(inner)
        if "role" in value:
            one = _message(value)
            return (one,) if one is not None else None
        prompt = value.get("prompt") or value.get("input")
        return chat_messages(prompt) if isinstance(prompt, (str, list)) else None
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if not isinstance(item, dict):
                return None
            message = _message(item)
            if message is None:
                return None
            out.append(message)
        return tuple(out) if out else None
    return None


def _message(item: Mapping[str, Any]) -> Message | None:
    raw = item.get("role")
    role = ROLES.get(raw) if type(raw) is str else None
    if role is None:
        role = role_of(raw)
        if role is None:
            return None
    content = item.get("content")
    if type(content) is str:  # the common case, without the general walk below
        return Message(role, content)
    content = text(content)
    if content is None:
        content = text(item.get("parts")) or ""
    return Message(role, content)


def response_text(value: Any) -> str | None:
    """The model's answer: a string, a Chat Completions response (``choices[0]``), one
    assistant message, a list of messages (the last assistant one), or ``{"output": ...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        choices = value.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            first = choices[0]
            message = first.get("message")
            if isinstance(message, dict):
                return text(message.get("content"))
            return text(first.get("text"))
        if "role" in value or "content" in value:
            return text(value.get("content"))
        for key in ("output", "completion", "text", "response"):
            if key in value:
                return response_text(value[key])
        return None
    if isinstance(value, (list, tuple)):
        messages = [m for m in value if isinstance(m, dict) and "role" in m]
        assistant = [m for m in messages if role_of(m.get("role")) == "assistant"]
        if assistant:
            return text(assistant[-1].get("content"))
        return text(value)
    return None


def json_value(value: Any) -> Any:
    """A structured value, whether recorded as such or as a JSON string (None if neither
    parses): span attributes hold JSON strings where events hold the structure."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def label(value: Any) -> str | None:
    """A scalar as text (an id, a model name, a version); None for None and containers."""
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    return str(value)


def number(value: Any) -> float | None:
    """A finite non-negative number from a number or a numeric string; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    found = float(value)
    return found if math.isfinite(found) and found >= 0 else None


def count(value: Any) -> int | None:
    """A whole count (tokens) from a number or numeric string; else None."""
    found = number(value)
    return int(found) if found is not None and found == int(found) else None


def replay_params(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters a replay sends again (``REPLAYED_PARAMS``)."""
    return {k: request[k] for k in REPLAYED_PARAMS if request.get(k) is not None}


# Without logs.feedback.names, a score or annotation counts as user feedback when its
# name says so; an evaluator's "toxicity: 0.02" is not a user's verdict.
_FEEDBACK_WORDS = ("feedback", "thumb", "rating", "user", "vote", "satisf", "helpful")


def is_feedback(name: str, settings: FeedbackConfig) -> bool:
    """Whether a named score is user feedback (``logs.feedback.names``, else by its name)."""
    if settings.names:
        return name in settings.names
    lowered = name.lower()
    return any(word in lowered for word in _FEEDBACK_WORDS)


def ms_between(start: float | None, end: float | None) -> float | None:
    """Milliseconds from ``start`` to ``end`` (unix seconds), to the microsecond."""
    if start is None or end is None:
        return None
    return max(0.0, round((end - start) * 1000.0, 3))


def feedback_of(value: Any, settings: FeedbackConfig) -> Feedback | None:
    """A logged feedback value as positive, negative or neutral (None: no verdict).

    Booleans: false is negative. Numbers: in 0..1, below ``negative_below`` is
    negative; +1/-1 thumbs; other ranges are neutral (say which values are negative with
    ``logs.feedback.negative_below``). Labels: ``negative_values`` (case-insensitive)
    are negative, anything else positive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return "positive" if value else "negative"
    if isinstance(value, (int, float)):
        if value < 0:
            return "negative"
        if value <= 1 or settings.negative_below > 1:
            return "negative" if value < settings.negative_below else "positive"
        return "neutral"
    if isinstance(value, str):
        label = value.strip().lower()
        if not label:
            return None
        return "negative" if label in settings.negative_values else "positive"
    if isinstance(value, dict):
        for key in ("score", "value", "rating", "label", "thumbs", "stringValue"):
            if key in value:
                return feedback_of(value[key], settings)
    return None
