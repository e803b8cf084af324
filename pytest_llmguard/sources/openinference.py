"""``openinference``: Arize Phoenix / OpenInference LLM spans as log records.

Checked against OpenInference's semantic conventions (``spec/semantic_conventions.md``
and ``spec/llm_spans.md`` of Arize-ai/openinference, read at commit 00e2b51): an LLM
span has ``openinference.span.kind = LLM``; ``llm.model_name``; ``llm.provider`` /
``llm.system``; the flattened messages ``llm.input_messages.N.message.role`` /
``.message.content`` (or ``.message.contents.M.message_content.text``) and
``llm.output_messages.N.message.*``; ``llm.token_count.prompt`` / ``.completion`` /
``.prompt_details.cache_read``; ``llm.cost.total`` (USD); ``llm.invocation_parameters``
(a JSON string); ``llm.prompt_template.version``; ``tag.tags``; ``metadata`` (a JSON
string); ``annotations.N.annotation.name``/``.label``/``.score`` as feedback; failures
as span status ``ERROR`` with ``exception`` events. Spans come in OTLP/JSON (flattened
attributes) or as Phoenix's span JSON (``context.span_id``, ``span_kind``, attributes
nested or flattened); other span kinds (CHAIN, RETRIEVER, TOOL...) are skipped and
counted::

    {"name": "ChatCompletion", "context": {"trace_id": "6f1c...", "span_id": "a1b2..."},
     "span_kind": "LLM", "start_time": "2025-05-01T12:00:00Z",
     "end_time": "2025-05-01T12:00:00.812Z", "status_code": "OK",
     "attributes": {"llm.model_name": "gpt-4o-mini",
                    "llm.input_messages.0.message.role": "user",
                    "llm.input_messages.0.message.content": "Hi",
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": "Hello!",
                    "llm.token_count.prompt": 9, "llm.token_count.completion": 3}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pytest_llmguard.records import Message
from pytest_llmguard.sources.base import ReadContext, where
from pytest_llmguard.sources.content import (
    count,
    feedback_of,
    is_feedback,
    json_value,
    label,
    number,
    replay_params,
    role_of,
)
from pytest_llmguard.sources.files import LogFile
from pytest_llmguard.sources.otlp import Span
from pytest_llmguard.sources.record import Feedback, LogRecord

NAME = "openinference"
KIND = "openinference.span.kind"


def is_openinference(span: Span) -> bool:
    return KIND in span.attributes


def convert(span: Span, file: LogFile, line: int | None, ctx: ReadContext) -> LogRecord | None:
    """The LLM span as a LogRecord; None (counted) for other kinds and empty spans."""
    a = span.attributes
    kind = str(a.get(KIND) or "").upper()
    if kind != "LLM":
        ctx.tally.skip(f"openinference {kind or 'unknown'} spans")
        return None
    messages = tuple(_messages(a, "llm.input_messages"))
    if not messages:
        ctx.tally.unusable(file.display, line, "LLM span without input messages")
        return None
    outputs = [m for m in _messages(a, "llm.output_messages") if m.role == "assistant"]
    error, message = _failure(span)
    if not outputs and error is None:
        ctx.tally.unusable(file.display, line, "LLM span without output messages")
        return None
    params = json_value(a.get("llm.invocation_parameters"))
    metadata = json_value(a.get("metadata"))
    metadata = metadata if isinstance(metadata, Mapping) else {}
    tags = a.get("tag.tags")
    feedback, detail = _feedback(a, ctx)
    return LogRecord(
        messages=messages,
        response=outputs[0].content if outputs and error is None else None,
        provenance=where(file, line, NAME, trace_id=span.trace_id, span_id=span.span_id),
        model=label(a.get("llm.response.model_name") or a.get("llm.model_name")),
        provider=label(a.get("llm.provider") or a.get("llm.system")),
        started_at=span.start,
        ended_at=span.end,
        input_tokens=count(a.get("llm.token_count.prompt")),
        output_tokens=count(a.get("llm.token_count.completion")),
        cached_tokens=count(a.get("llm.token_count.prompt_details.cache_read")),
        cost_usd=number(a.get("llm.cost.total")),
        error=error,
        error_message=message,
        finish_reason=label(a.get("llm.finish_reason")),
        feedback=feedback,
        feedback_detail=detail,
        route=label(metadata.get("route")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        prompt_name=label(metadata.get("prompt_name")),
        prompt_version=label(a.get("llm.prompt_template.version")),
        params=replay_params(params) if isinstance(params, Mapping) else {},
    )


def _messages(attrs: Mapping[str, Any], prefix: str) -> Iterator[Message]:
    index = 0
    while True:
        at = f"{prefix}.{index}.message"
        role = attrs.get(f"{at}.role")
        if role is None and f"{at}.content" not in attrs:
            return
        content = attrs.get(f"{at}.content")
        if content is None:
            content = "".join(_contents(attrs, f"{at}.contents"))
        yield Message(role_of(role) or "user", str(content))
        index += 1


def _contents(attrs: Mapping[str, Any], prefix: str) -> Iterator[str]:
    index = 0
    while f"{prefix}.{index}.message_content.type" in attrs:
        found = attrs.get(f"{prefix}.{index}.message_content.text")
        if isinstance(found, str):
            yield found
        index += 1


def _failure(span: Span) -> tuple[str | None, str | None]:
    kind = message = None
    for e in span.events:
        if e.name == "exception":
            kind = kind or label(e.attributes.get("exception.type"))
            message = message or label(e.attributes.get("exception.message"))
    if span.error:
        return kind or "error", message or span.status_message
    return None, None


def _feedback(attrs: Mapping[str, Any], ctx: ReadContext) -> tuple[Feedback | None, str | None]:
    """``annotations.N.annotation.*`` (filtered by logs.feedback.names): the worst verdict."""
    found: tuple[Feedback | None, str | None] = (None, None)
    index = 0
    while f"annotations.{index}.annotation.name" in attrs:
        at = f"annotations.{index}.annotation"
        name = str(attrs.get(f"{at}.name"))
        index += 1
        if not is_feedback(name, ctx.feedback):
            continue
        value = attrs.get(f"{at}.label")
        if value is None:
            value = attrs.get(f"{at}.score")
        verdict = feedback_of(value, ctx.feedback)
        if verdict is not None and found[0] != "negative":
            found = (verdict, f"{name} = {value}")
    return found
