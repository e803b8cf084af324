"""OTLP/JSON decoding: spans and log records out of trace and log exports.

OTLP/JSON is the Protobuf JSON mapping of ``ExportTraceServiceRequest`` and
``ExportLogsServiceRequest`` (opentelemetry-proto ``docs/specification.md``, "JSON
Protobuf Encoding", OTLP 1.x) with these rules: ``traceId``/``spanId`` are hex strings
(not base64, which some exporters write anyway: both are read), 64-bit integers
(``intValue``, ``*UnixNano``) may be strings, enums (``status.code``) are integers (their
names are read too), and attribute values are ``AnyValue`` objects (``stringValue``,
``intValue``, ``doubleValue``, ``boolValue``, ``arrayValue``, ``kvlistValue``,
``bytesValue``). Phoenix's own span JSON (``context.span_id``, ``span_kind``,
``attributes`` nested or flattened) is read into the same ``Span``.

Why not ``opentelemetry-proto``'s generated classes with ``json_format``: they decode
the hex ids as base64 (the bytes come out wrong, silently), and they parse one whole
request at a time, where a file exporter's document can be gigabytes; ijson already
streams the items (``sources.files``), and these ~100 lines turn each into plain data.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmguard.sources.files import Item
from pytest_llmguard.sources.window import parse_timestamp

__all__ = ["PREFIXES", "Event", "LogEvent", "Span", "any_value", "decode"]

SPANS = "resourceSpans.item.scopeSpans.item.spans.item"
LOG_RECORDS = "resourceLogs.item.scopeLogs.item.logRecords.item"
# Where spans and log records sit in one document; "item": a JSON array of Phoenix spans.
PREFIXES = (SPANS, LOG_RECORDS, "item")
_ERROR_CODES = (2, "2", "STATUS_CODE_ERROR", "ERROR")


@dataclass(frozen=True, slots=True)
class Event:
    """A span event: its name, time (unix seconds) and attributes."""

    name: str
    time: float | None
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Span:
    """One span, decoded: ids in lower-case hex, times in unix seconds."""

    trace_id: str | None
    span_id: str | None
    name: str
    start: float | None
    end: float | None
    attributes: Mapping[str, Any]
    events: tuple[Event, ...] = ()
    error: bool = False
    status_message: str | None = None
    resource: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One log record: an event of the Logs API, tied to its span by trace and span id."""

    trace_id: str | None
    span_id: str | None
    name: str | None  # eventName, else the event.name attribute
    time: float | None
    attributes: Mapping[str, Any]
    body: Any


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as plain Python data (a plain value is returned as it is)."""
    if not isinstance(value, Mapping):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values") or ()]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(pairs: Any) -> dict[str, Any]:
    """A list of OTLP ``KeyValue`` as a dict (a dict is taken as already plain)."""
    if isinstance(pairs, Mapping):
        return dict(pairs)
    out: dict[str, Any] = {}
    for pair in pairs or ():
        if isinstance(pair, Mapping) and isinstance(pair.get("key"), str):
            out[pair["key"]] = any_value(pair.get("value"))
    return out


def hex_id(value: Any) -> str | None:
    """A trace or span id as lower-case hex, whether written hex (the spec) or base64."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().lower().removeprefix("0x")
    if len(text) in (16, 32) and all(c in "0123456789abcdef" for c in text):
        return text
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value  # neither: keep it as written (Phoenix uses UUIDs)
    return raw.hex() if len(raw) in (8, 16) else value


def decode(item: Item) -> Iterator[Span | LogEvent]:
    """The spans and log records in one item: a streamed span or log record, a whole
    export request (one JSONL line of the collector's file exporter), or a Phoenix span."""
    data = item.data
    if item.prefix == SPANS:
        yield _span(data, {})
    elif item.prefix == LOG_RECORDS:
        yield _log(data)
    elif "resourceSpans" in data or "resourceLogs" in data:
        for rs in data.get("resourceSpans") or ():
            resource = attributes((rs.get("resource") or {}).get("attributes"))
            for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                for span in ss.get("spans") or ():
                    yield _span(span, resource)
        for rl in data.get("resourceLogs") or ():
            for sl in rl.get("scopeLogs") or ():
                for log in sl.get("logRecords") or ():
                    yield _log(log)
    elif isinstance(data.get("context"), Mapping) or "span_kind" in data:
        yield _phoenix_span(data)


def _span(data: Mapping[str, Any], resource: Mapping[str, Any]) -> Span:
    status = data.get("status") or {}
    events = tuple(
        Event(
            str(e.get("name") or ""),
            parse_timestamp(e.get("timeUnixNano")),
            attributes(e.get("attributes")),
        )
        for e in data.get("events") or ()
        if isinstance(e, Mapping)
    )
    return Span(
        trace_id=hex_id(data.get("traceId")),
        span_id=hex_id(data.get("spanId")),
        name=str(data.get("name") or ""),
        start=parse_timestamp(data.get("startTimeUnixNano")),
        end=parse_timestamp(data.get("endTimeUnixNano")),
        attributes=attributes(data.get("attributes")),
        events=events,
        error=status.get("code") in _ERROR_CODES,
        status_message=status.get("message") or None,
        resource=resource,
    )


def _log(data: Mapping[str, Any]) -> LogEvent:
    attrs = attributes(data.get("attributes"))
    name = data.get("eventName") or attrs.get("event.name")
    return LogEvent(
        trace_id=hex_id(data.get("traceId")),
        span_id=hex_id(data.get("spanId")),
        name=str(name) if name else None,
        time=parse_timestamp(data.get("timeUnixNano") or data.get("observedTimeUnixNano")),
        attributes=attrs,
        body=any_value(data.get("body")),
    )


def _phoenix_span(data: Mapping[str, Any]) -> Span:
    context = data.get("context") or {}
    attrs: dict[str, Any] = {}
    _flatten("", data.get("attributes") or {}, attrs)
    if "span_kind" in data:
        attrs.setdefault("openinference.span.kind", data["span_kind"])
    return Span(
        trace_id=hex_id(context.get("trace_id")),
        span_id=hex_id(context.get("span_id")),
        name=str(data.get("name") or ""),
        start=parse_timestamp(data.get("start_time")),
        end=parse_timestamp(data.get("end_time")),
        attributes=attrs,
        events=tuple(
            Event(
                str(e.get("name") or ""),
                parse_timestamp(e.get("timestamp")),
                dict(e.get("attributes") or {}),
            )
            for e in data.get("events") or ()
            if isinstance(e, Mapping)
        ),
        error=data.get("status_code") in _ERROR_CODES,
        status_message=data.get("status_message") or None,
    )


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Nested attributes (``{"llm": {"input_messages": [{...}]}}``) as OpenInference's
    flattened keys (``llm.input_messages.0.message.role``); lists of scalars stay lists."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for index, inner in enumerate(value):
            _flatten(f"{prefix}.{index}", inner, out)
    else:
        out[prefix] = value
