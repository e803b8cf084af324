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

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_llmguard.sources.base import (
    ReadContext,
    compile_path,
    read_items,
    where,
)
from pytest_llmguard.sources.content import (
    ROLES,
    chat_messages,
    count,
    feedback_of,
    label,
    number,
    replay_params,
    response_text,
)
from pytest_llmguard.sources.files import Item, LogFile
from pytest_llmguard.sources.record import Candidate, LogRecord
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
_STATUS = ("response.status_code", "status_code", "status")
# field -> ((first key, (further keys...)), ...): paths are split once per source, and a
# path whose first key is absent costs one dict lookup.
Plan = Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]


@functools.lru_cache(maxsize=64)
def _plan(fields: tuple[tuple[str, str], ...]) -> Plan:
    """The lookups of one source: its ``fields`` over the defaults."""
    chosen = {**DEFAULT_PATHS, **{name: (path,) for name, path in fields}}
    chosen.update(cached_tokens=_CACHED, status=_STATUS)
    return {
        name: tuple((keys[0], tuple(keys[1:])) for keys in map(compile_path, paths))
        for name, paths in chosen.items()
    }


def _get(data: dict[str, Any], paths: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:
    """The value at the first path that holds one, or None."""
    for head, rest in paths:
        value = data.get(head)
        for key in rest:
            if value is None:
                break
            kind = type(value)
            if kind is dict:
                value = value.get(key)
            elif kind is list and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                value = None
        if value is not None:
            return value
    return None


class OpenAIJsonl:
    name = NAME
    prefixes = ("item",)

    def detect(self, data: Mapping[str, Any]) -> bool:
        has_request = any(k in data for k in ("request", "body", "messages"))
        has_answer = any(k in data for k in ("response", "error", "output", "completion"))
        return has_request and has_answer

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[Candidate]:
        plan = _plan(tuple(sorted(ctx.fields.items())))
        return read_items(files, self.prefixes, ctx, functools.partial(convert, plan=plan))


def convert(item: Item, file: LogFile, ctx: ReadContext, *, plan: Plan) -> Iterable[Candidate]:
    """The record as a candidate: checked now (so that bad and unusable records are
    counted), normalised only if the sample keeps it (``_Pending.record``)."""
    data = item.data
    if not _has_messages(_get(data, plan["messages"])):
        ctx.tally.bad(
            file.display,
            item.line,
            "no request messages (looked for messages, request.messages, body.messages; "
            "map yours with logs.sources[].fields.messages)",
            strict=ctx.strict,
        )
        return ()
    output = _get(data, plan["output"])
    answer = response_text(output if output is not None else _get(data, plan["response"]))
    raw_error = _get(data, plan["error"])
    if answer is None and raw_error in (None, False):
        status = count(_get(data, plan["status"]))  # a failed batch line: status alone
        if status is None or status < 400:
            ctx.tally.unusable(file.display, item.line, "no response text and no error logged")
            return ()
    return (_Pending(data, plan, answer, file, item.line, ctx),)


def _has_messages(value: Any) -> bool:
    """Whether ``chat_messages`` reads a conversation here (the common shape decided
    without building it)."""
    if type(value) is list and value:
        for message in value:
            role = message.get("role") if type(message) is dict else None
            if type(role) is not str or role not in ROLES:
                break
        else:
            return True
    return chat_messages(value) is not None


class _Pending:
    """An openai-jsonl record read and checked, its fields looked up, not yet normalised."""

    __slots__ = ("_answer", "_ctx", "_data", "_file", "_line", "_plan", "_whole")

    def __init__(
        self,
        data: dict[str, Any],
        plan: Plan,
        answer: str | None,
        file: LogFile,
        line: int | None,
        ctx: ReadContext,
    ) -> None:
        self._data, self._plan, self._answer = data, plan, answer
        self._file, self._line, self._ctx = file, line, ctx
        self._whole: LogRecord | None = None

    def _value(self, name: str) -> Any:
        return _get(self._data, self._plan[name])

    @property
    def identity(self) -> str:
        request_id = label(self._value("id"))
        # the same string LogRecord.identity makes of a record with only a request id
        return f"ids:{request_id}" if request_id else self.record().identity

    @property
    def started_at(self) -> float | None:
        return parse_timestamp(self._value("timestamp"))

    def field(self, name: str) -> str:
        if name in ("model", "route", "prompt_name", "prompt_version"):
            return label(self._value(name)) or "-"
        return self.record().field(name)

    def record(self) -> LogRecord:
        if self._whole is None:
            self._whole = self._build()
        return self._whole

    def _build(self) -> LogRecord:
        ctx = self._ctx
        v = {name: self._value(name) for name in self._plan}
        messages = chat_messages(v["messages"])
        assert messages is not None  # checked by convert
        error, message, status = _error(v["error"], count(v["status"]))
        response, request, tags = v["response"], v["request"], v["tags"]
        finish = None
        choices = response.get("choices") if type(response) is dict else None
        if type(choices) is list and choices and type(choices[0]) is dict:
            finish = choices[0].get("finish_reason")
        return LogRecord(
            messages=messages,
            response=self._answer if error is None else None,
            provenance=where(self._file, self._line, NAME, request_id=label(v["id"])),
            model=label(v["model"]),
            provider="openai",
            started_at=self.started_at,
            latency_ms=number(v["latency_ms"]),
            ttft_ms=number(v["ttft_ms"]),
            input_tokens=count(v["input_tokens"]),
            output_tokens=count(v["output_tokens"]),
            cached_tokens=count(v["cached_tokens"]),
            cost_usd=number(v["cost_usd"]),
            error=error,
            error_message=message,
            error_status=status,
            finish_reason=finish if isinstance(finish, str) else None,
            feedback=feedback_of(v["feedback"], ctx.feedback),
            route=label(v["route"]),
            tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
            prompt_name=label(v["prompt_name"]),
            prompt_version=label(v["prompt_version"]),
            params=replay_params(request) if isinstance(request, dict) else {},
        )


def _error(raw: Any, status: int | None) -> tuple[str | None, str | None, int | None]:
    """(type, message, HTTP status) of a logged failure, or (None, None, None)."""
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
