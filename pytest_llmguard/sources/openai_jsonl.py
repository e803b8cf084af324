"""``openai-jsonl``: one JSON object per line holding a Chat Completions request and its
response (or error), with a timestamp, the latency and optional feedback.

The request and response are OpenAI's Chat Completions objects as documented in the API
reference (``POST /v1/chat/completions``: request ``model``, ``messages``, sampling
parameters; response ``chat.completion`` with ``choices[].message``, ``finish_reason``
and ``usage.prompt_tokens``/``completion_tokens``/``prompt_tokens_details.
cached_tokens``). Around them, a home-grown log adds its own fields; the defaults below
read the common spellings, and OpenAI's Batch API output lines (``custom_id``,
``response.status_code``, ``response.body``) as they are. ``logs.sources[].fields``
points any field elsewhere with a dotted path::

    {"timestamp": "2025-05-01T12:00:00Z", "latency_ms": 812,
     "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
     "response": {"id": "chatcmpl-1", "model": "gpt-4o-mini-2024-07-18",
                  "choices": [{"message": {"role": "assistant", "content": "Hello!"},
                               "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 9, "completion_tokens": 3}},
     "feedback": "thumbs_up", "metadata": {"route": "/chat", "prompt_version": "3"}}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_llmguard.sources.base import ReadContext, first, read_items, where
from pytest_llmguard.sources.content import (
    chat_messages,
    count,
    feedback_of,
    label,
    number,
    replay_params,
    response_text,
)
from pytest_llmguard.sources.files import Item, LogFile
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.sources.window import parse_timestamp

NAME = "openai-jsonl"

# Where each field is looked for, in order, unless logs.sources[].fields names a path.
DEFAULT_PATHS: Mapping[str, tuple[str, ...]] = {
    "id": ("id", "request_id", "custom_id", "response.id", "response.body.id"),
    "timestamp": ("timestamp", "created_at", "time", "ts", "start_time", "response.created"),
    "request": ("request", "body", "request.body"),
    "messages": ("messages", "request.messages", "body.messages", "request.body.messages"),
    "response": ("response.body", "response"),
    "output": ("output", "completion"),
    "model": ("response.body.model", "response.model", "model", "request.model", "body.model"),
    "latency_ms": ("latency_ms", "duration_ms", "elapsed_ms", "metadata.latency_ms"),
    "ttft_ms": ("ttft_ms", "time_to_first_token_ms", "metadata.ttft_ms"),
    "input_tokens": (
        "response.body.usage.prompt_tokens",
        "response.usage.prompt_tokens",
        "usage.prompt_tokens",
        "usage.input_tokens",
    ),
    "output_tokens": (
        "response.body.usage.completion_tokens",
        "response.usage.completion_tokens",
        "usage.completion_tokens",
        "usage.output_tokens",
    ),
    "cost_usd": ("cost_usd", "cost", "metadata.cost_usd"),
    "error": ("error", "response.error", "response.body.error"),
    "feedback": ("feedback", "user_feedback", "rating", "metadata.feedback"),
    "route": ("route", "metadata.route", "endpoint", "metadata.endpoint"),
    "tags": ("tags", "metadata.tags"),
    "prompt_name": ("prompt_name", "metadata.prompt_name", "prompt.name"),
    "prompt_version": ("prompt_version", "metadata.prompt_version", "prompt.version"),
}
_CACHED = (
    "response.body.usage.prompt_tokens_details.cached_tokens",
    "response.usage.prompt_tokens_details.cached_tokens",
    "usage.prompt_tokens_details.cached_tokens",
)


class OpenAIJsonl:
    name = NAME
    prefixes = ("item",)

    def detect(self, data: Mapping[str, Any]) -> bool:
        has_request = any(k in data for k in ("request", "body", "messages"))
        has_answer = any(k in data for k in ("response", "error", "output", "completion"))
        return has_request and has_answer

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[LogRecord]:
        return read_items(files, self.prefixes, ctx, convert)


def _get(data: Mapping[str, Any], name: str, ctx: ReadContext) -> Any:
    path = ctx.fields.get(name)
    return first(data, (path,) if path else DEFAULT_PATHS[name])


def convert(item: Item, file: LogFile, ctx: ReadContext) -> Iterable[LogRecord]:
    data = item.data
    started = parse_timestamp(_get(data, "timestamp", ctx))
    messages = chat_messages(_get(data, "messages", ctx))
    if messages is None:
        ctx.tally.bad(
            file.display,
            item.line,
            "no request messages (looked for messages, request.messages, body.messages; "
            "map yours with logs.sources[].fields.messages)",
            strict=ctx.strict,
        )
        return ()
    response = _get(data, "response", ctx)
    output = _get(data, "output", ctx)
    answer = response_text(output if output is not None else response)
    error, message, status = _error(data, ctx)
    if error is None and answer is None:
        ctx.tally.unusable(file.display, item.line, "no response text and no error logged")
        return ()
    request = _get(data, "request", ctx)
    usage_source = response if isinstance(response, Mapping) else {}
    finish = None
    choices = usage_source.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        finish = choices[0].get("finish_reason")
    tags = _get(data, "tags", ctx)
    record = LogRecord(
        messages=messages,
        response=answer if error is None else None,
        provenance=where(
            file,
            item.line,
            NAME,
            started,
            request_id=label(_get(data, "id", ctx)),
        ),
        model=label(_get(data, "model", ctx)),
        provider="openai",
        started_at=started,
        latency_ms=number(_get(data, "latency_ms", ctx)),
        ttft_ms=number(_get(data, "ttft_ms", ctx)),
        input_tokens=count(_get(data, "input_tokens", ctx)),
        output_tokens=count(_get(data, "output_tokens", ctx)),
        cached_tokens=count(first(data, _CACHED)),
        cost_usd=number(_get(data, "cost_usd", ctx)),
        error=error,
        error_message=message,
        error_status=status,
        finish_reason=finish if isinstance(finish, str) else None,
        feedback=feedback_of(_get(data, "feedback", ctx), ctx.feedback),
        route=label(_get(data, "route", ctx)),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        prompt_name=label(_get(data, "prompt_name", ctx)),
        prompt_version=label(_get(data, "prompt_version", ctx)),
        params=replay_params(request) if isinstance(request, Mapping) else {},
    )
    return (record,)


def _error(data: Mapping[str, Any], ctx: ReadContext) -> tuple[str | None, str | None, int | None]:
    """(type, message, HTTP status) of a logged failure, or (None, None, None)."""
    raw = _get(data, "error", ctx)
    status = count(first(data, ("response.status_code", "status_code", "status")))
    if raw is None or raw is False:
        if status is not None and status >= 400:
            return str(status), None, status
        return None, None, None
    if isinstance(raw, Mapping):
        nested = raw.get("error")
        inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else raw
        kind = inner.get("type") or inner.get("code") or inner.get("class") or "error"
        message = inner.get("message")
        status = count(inner.get("status") or inner.get("status_code")) or status
        return str(kind), label(message), status
    return "error", str(raw), status
