"""``otel``: OpenTelemetry GenAI client spans (OTLP/JSON) as log records.

Checked against the OpenTelemetry semantic conventions for GenAI, ``docs/gen-ai/`` of
open-telemetry/semantic-conventions at the tags named below. Real exports mix versions,
so every spelling is read:

- which spans: ``gen_ai.operation.name`` ``chat``, ``text_completion`` or
  ``generate_content`` (1.27+), or a span with ``gen_ai.system``/``gen_ai.provider.name``
  and no operation (earlier); embeddings, tool and agent spans are skipped and counted;
- usage: ``gen_ai.usage.input_tokens``/``output_tokens`` (1.27+), or the earlier
  ``gen_ai.usage.prompt_tokens``/``completion_tokens``; cached input:
  ``gen_ai.usage.cache_read.input_tokens`` (1.40+);
- provider: ``gen_ai.provider.name`` (1.37+), or ``gen_ai.system`` (up to 1.36);
  model: ``gen_ai.response.model``, else ``gen_ai.request.model``;
- content, in this order: ``gen_ai.system_instructions``, ``gen_ai.input.messages``,
  ``gen_ai.output.messages`` on the span (1.37+; JSON strings on spans, structured on
  events; the parts schemas ``gen-ai-input-messages.json``/``gen-ai-output-messages.json``);
  the same on a ``gen_ai.client.inference.operation.details`` event (1.37+, a span event
  or a log record); the per-message events of 1.28-1.36 (``gen_ai.system.message``,
  ``gen_ai.user.message``, ``gen_ai.assistant.message``, ``gen_ai.tool.message``,
  ``gen_ai.choice``: log records with a body, or span events whose attributes hold the
  body's fields, or its JSON in ``gen_ai.event.content``); the 1.26-1.27 events
  ``gen_ai.content.prompt``/``gen_ai.content.completion`` (``gen_ai.prompt``,
  ``gen_ai.completion`` JSON strings); and the indexed ``gen_ai.prompt.N.role``/
  ``.content`` attributes OpenLLMetry writes;
- failures: ``error.type`` (1.27+), or the span status ``ERROR`` with its message or an
  ``exception`` event; time to first chunk: ``gen_ai.response.time_to_first_chunk``
  (seconds, 1.41); feedback: ``gen_ai.evaluation.result`` events (1.38+:
  ``gen_ai.evaluation.score.label``/``.value``).

A span whose content was not captured (the default of every GenAI instrumentation) is
counted as unusable, never dropped silently. Log-record events are joined to their span
by trace and span id; a span waits for them in a window of ``MAX_PENDING`` spans, so
memory stays bounded whatever the export's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_llmguard.records import Message
from pytest_llmguard.sources.base import ReadContext, where
from pytest_llmguard.sources.content import (
    chat_messages,
    count,
    feedback_of,
    is_feedback,
    json_value,
    label,
    number,
    response_text,
    role_of,
    text,
)
from pytest_llmguard.sources.files import LogFile
from pytest_llmguard.sources.otlp import Event, LogEvent, Span
from pytest_llmguard.sources.record import LogRecord

NAME = "otel"
MAX_PENDING = 50_000  # spans waiting for their log-record events (a few hundred bytes each)
NO_CONTENT = "LLM span without its content (content capture off?)"
INFERENCE = ("chat", "text_completion", "generate_content")
DETAILS = "gen_ai.client.inference.operation.details"
PER_MESSAGE = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "choice",
}
CONTENT_EVENTS = frozenset((DETAILS, *PER_MESSAGE))
_PARAMS = {
    "gen_ai.request.temperature": "temperature",
    "gen_ai.request.top_p": "top_p",
    "gen_ai.request.max_tokens": "max_tokens",
    "gen_ai.request.seed": "seed",
    "gen_ai.request.stop_sequences": "stop",
    "gen_ai.request.frequency_penalty": "frequency_penalty",
    "gen_ai.request.presence_penalty": "presence_penalty",
}
Content = tuple[tuple[Message, ...], str | None, str | None]  # messages, answer, finish


def is_genai(span: Span) -> bool:
    a = span.attributes
    return any(k in a for k in ("gen_ai.operation.name", "gen_ai.system", "gen_ai.provider.name"))


def skip_reason(span: Span) -> str | None:
    """Why a GenAI span is not a model call to replay (an embeddings call...), or None."""
    operation = span.attributes.get("gen_ai.operation.name")
    if operation is None or operation in INFERENCE:
        return None
    return f"gen_ai {operation} spans"


def own_content(span: Span) -> Content | None:
    """The conversation recorded on the span itself or on its span events, else None."""
    found = _structured(span.attributes)
    if found is None:
        details = [e for e in span.events if e.name == DETAILS]
        found = _structured(details[0].attributes) if details else None
    if found is None:
        found = _per_message([(e.name, _event_body(e)) for e in span.events])
    if found is None:
        found = _content_events(span.events) or _indexed(span.attributes)
    return found


def joined_content(events: Sequence[LogEvent]) -> Content | None:
    """The conversation recorded on log-record events of a span."""
    for event in events:
        if event.name == DETAILS:
            found = _structured(event.attributes)
            if found is not None:
                return found
    ordered = sorted(events, key=lambda e: e.time or 0.0)
    return _per_message([(e.name or "", e.body) for e in ordered])


def to_record(
    span: Span, content: Content, file: LogFile, line: int | None, ctx: ReadContext
) -> LogRecord:
    """A GenAI span and its conversation as a LogRecord."""
    a = span.attributes
    messages, answer, finish = content
    error, message, status = _failure(span)
    first_chunk = number(a.get("gen_ai.response.time_to_first_chunk"))
    feedback = None
    for e in span.events:
        name = str(e.attributes.get("gen_ai.evaluation.name") or "")
        if e.name == "gen_ai.evaluation.result" and is_feedback(name, ctx.feedback):
            value = e.attributes.get("gen_ai.evaluation.score.label")
            if value is None:
                value = e.attributes.get("gen_ai.evaluation.score.value")
            feedback = feedback_of(value, ctx.feedback) or feedback
            if feedback == "negative":
                break
    finish_reasons = a.get("gen_ai.response.finish_reasons")
    if finish is None and isinstance(finish_reasons, list) and finish_reasons:
        finish = label(finish_reasons[0])
    return LogRecord(
        messages=messages,
        response=None if error is not None else answer,
        provenance=where(
            file,
            line,
            NAME,
            trace_id=span.trace_id,
            span_id=span.span_id,
            request_id=label(a.get("gen_ai.response.id")),
        ),
        model=label(a.get("gen_ai.response.model") or a.get("gen_ai.request.model")),
        provider=label(a.get("gen_ai.provider.name") or a.get("gen_ai.system")),
        started_at=span.start,
        ended_at=span.end,
        ttft_ms=round(first_chunk * 1000.0, 3) if first_chunk is not None else None,
        input_tokens=count(_first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")),
        output_tokens=count(
            _first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
        ),
        cached_tokens=count(a.get("gen_ai.usage.cache_read.input_tokens")),
        error=error,
        error_message=message,
        error_status=status,
        finish_reason=finish,
        feedback=feedback,
        route=label(a.get("http.route") or span.resource.get("service.name")),
        params={v: a[k] for k, v in _PARAMS.items() if a.get(k) is not None},
    )


def _first(attrs: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


def _failure(span: Span) -> tuple[str | None, str | None, int | None]:
    a = span.attributes
    kind = label(a.get("error.type"))
    message = span.status_message
    for e in span.events:
        if e.name == "exception":
            kind = kind or label(e.attributes.get("exception.type"))
            message = message or label(e.attributes.get("exception.message"))
    if kind is None and span.error:
        kind = "error"
    if kind is None:
        return None, None, None
    status = int(kind) if kind.isdigit() else None
    return kind, message, status


def _parts_text(parts: Any) -> str:
    """The text of a message's parts: text parts, and tool results as their JSON."""
    if not isinstance(parts, list):
        return text(parts) or ""
    out = []
    for part in parts:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            out.append(str(part.get("content") or ""))
        elif kind == "tool_call_response":
            result = part.get("response", part.get("result"))
            out.append(result if isinstance(result, str) else json.dumps(result))
    return "".join(out)


def _structured(attrs: Mapping[str, Any]) -> Content | None:
    """1.37+: gen_ai.system_instructions / input.messages / output.messages."""
    inputs = json_value(attrs.get("gen_ai.input.messages"))
    if not isinstance(inputs, list):
        return None
    messages: list[Message] = []
    system = json_value(attrs.get("gen_ai.system_instructions"))
    if system:
        messages.append(Message("system", _parts_text(system)))
    for m in inputs:
        role = role_of(m.get("role")) if isinstance(m, Mapping) else None
        if role is not None:
            messages.append(Message(role, _parts_text(m.get("parts"))))
    outputs = json_value(attrs.get("gen_ai.output.messages"))
    answer = finish = None
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], Mapping):
        answer = _parts_text(outputs[0].get("parts"))
        finish = label(outputs[0].get("finish_reason"))
    return (tuple(messages), answer, finish) if messages else None


def _event_body(event: Event) -> Any:
    """A span event's body: its JSON in gen_ai.event.content, else its attributes."""
    raw = event.attributes.get("gen_ai.event.content")
    body = json_value(raw) if raw is not None else None
    return body if isinstance(body, Mapping) else event.attributes


def _per_message(events: Iterable[tuple[str, Any]]) -> Content | None:
    """1.28-1.36: one event per message, and gen_ai.choice for each answer."""
    messages: list[Message] = []
    answer = finish = None
    for name, body in events:
        kind = PER_MESSAGE.get(name)
        if kind is None or not isinstance(body, Mapping):
            continue
        if kind == "choice":
            if answer is None:
                message = body.get("message")
                content = message.get("content") if isinstance(message, Mapping) else None
                answer = text(content) if content is not None else None
                finish = label(body.get("finish_reason"))
            continue
        content = body.get("content")
        role = role_of(body.get("role")) or kind
        messages.append(Message(role, text(content) or ""))
    if not messages or all(not m.content for m in messages):
        return None
    return tuple(messages), answer, finish


def _content_events(events: Sequence[Event]) -> Content | None:
    """1.26-1.27: gen_ai.content.prompt / gen_ai.content.completion span events."""
    prompt = completion = None
    for e in events:
        if e.name == "gen_ai.content.prompt":
            prompt = json_value(e.attributes.get("gen_ai.prompt"))
        elif e.name == "gen_ai.content.completion":
            completion = json_value(e.attributes.get("gen_ai.completion"))
    messages = chat_messages(prompt) if prompt is not None else None
    if messages is None:
        return None
    return messages, response_text(completion) if completion is not None else None, None


def _indexed(attrs: Mapping[str, Any]) -> Content | None:
    """OpenLLMetry's ``gen_ai.prompt.N.role``/``.content`` and ``gen_ai.completion.N.*``."""
    messages = list(_indexed_messages(attrs, "gen_ai.prompt"))
    if not messages:
        return None
    answers = list(_indexed_messages(attrs, "gen_ai.completion"))
    finish = label(attrs.get("gen_ai.completion.0.finish_reason"))
    return tuple(messages), answers[0].content if answers else None, finish


def _indexed_messages(attrs: Mapping[str, Any], prefix: str) -> Iterator[Message]:
    index = 0
    while f"{prefix}.{index}.content" in attrs or f"{prefix}.{index}.role" in attrs:
        role = role_of(attrs.get(f"{prefix}.{index}.role")) or "user"
        yield Message(role, text(attrs.get(f"{prefix}.{index}.content")) or "")
        index += 1
