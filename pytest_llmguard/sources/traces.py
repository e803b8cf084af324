"""The reader of trace exports: OTLP/JSON (or Phoenix span JSON) to log records.

One loop serves the ``otel`` and ``openinference`` formats (and ``auto`` on a trace
export, where each span is read by whichever convention it follows): spans and log
records are decoded by ``sources.otlp``, GenAI spans are read by ``sources.otel``,
OpenInference LLM spans by ``sources.openinference``.

GenAI content may sit on log records (the Logs API events of 1.28-1.36, or the
``operation.details`` event) instead of the span. Those are joined by trace and span id:
a span without content of its own waits, with its log records, in a window of
``otel.MAX_PENDING`` spans; leaving the window (or the end of the source) decides it:
with content it becomes a record, without it counts as unusable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.sources import openinference, otel
from pytest_llmguard.sources.base import ReadContext
from pytest_llmguard.sources.files import LogFile, items
from pytest_llmguard.sources.otlp import PREFIXES, LogEvent, Span, decode
from pytest_llmguard.sources.record import Candidate, LogRecord

__all__ = ["Traces"]

SpanKey = tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class _Waiting:
    span: Span
    file: LogFile
    line: int | None


class Traces:
    """A trace-export format reading the conventions in ``conventions``."""

    prefixes = PREFIXES

    def __init__(self, name: str, conventions: Sequence[str]) -> None:
        self.name = name
        self.conventions = frozenset(conventions)

    def detect(self, data: Mapping[str, Any]) -> bool:
        if "resourceSpans" in data or "resourceLogs" in data:
            return True
        attributes = data.get("attributes")
        if "span_kind" in data or (isinstance(data.get("context"), Mapping) and attributes):
            return "openinference" in self.conventions
        return False

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[Candidate]:
        join = _Join(ctx)
        for file in files:
            for item in items(file, self.prefixes, ctx.tally, strict=ctx.strict):
                for found in decode(item):
                    if isinstance(found, LogEvent):
                        yield from join.event(found)
                        continue
                    for record in self._span(found, file, item.line, ctx, join):
                        yield self._count(record, ctx)
        for record in join.finish():
            yield self._count(record, ctx)

    @staticmethod
    def _count(record: LogRecord, ctx: ReadContext) -> LogRecord:
        ctx.tally.record()
        return record

    def _span(
        self, span: Span, file: LogFile, line: int | None, ctx: ReadContext, join: _Join
    ) -> Iterator[LogRecord]:
        if openinference.is_openinference(span):
            if "openinference" not in self.conventions:
                ctx.tally.skip("openinference spans (format: otel)")
                return
            record = openinference.convert(span, file, line, ctx)
            if record is not None:
                yield record
            return
        if not otel.is_genai(span) or "otel" not in self.conventions:
            ctx.tally.skip("spans that are not LLM calls")
            return
        why = otel.skip_reason(span)
        if why is not None:
            ctx.tally.skip(why)
            return
        content = otel.own_content(span)
        if content is not None:
            yield otel.to_record(span, content, file, line, ctx)
            return
        yield from join.wait(_Waiting(span, file, line))


class _Join:
    """GenAI spans without content of their own, and log records waiting for their span."""

    def __init__(self, ctx: ReadContext) -> None:
        self._ctx = ctx
        self._spans: OrderedDict[SpanKey, _Waiting] = OrderedDict()
        self._events: OrderedDict[SpanKey, list[LogEvent]] = OrderedDict()

    def wait(self, waiting: _Waiting) -> Iterator[LogRecord]:
        """Keep a span until its log records come; decide the oldest beyond the window."""
        self._spans[(waiting.span.trace_id, waiting.span.span_id)] = waiting
        while len(self._spans) > otel.MAX_PENDING:
            yield from self._decide(*self._spans.popitem(last=False))

    def event(self, event: LogEvent) -> Iterator[LogRecord]:
        if event.name not in otel.CONTENT_EVENTS:
            return
        self._events.setdefault((event.trace_id, event.span_id), []).append(event)
        while len(self._events) > otel.MAX_PENDING:
            key, events = self._events.popitem(last=False)
            waiting = self._spans.pop(key, None)
            if waiting is None:
                self._orphan(events)
            else:
                self._events[key] = events
                yield from self._decide(key, waiting)

    def _decide(self, key: SpanKey, waiting: _Waiting) -> Iterator[LogRecord]:
        events = self._events.pop(key, None)
        content = otel.joined_content(events) if events else None
        if content is None:
            self._ctx.tally.unusable(waiting.file.display, waiting.line, otel.NO_CONTENT)
            return
        yield otel.to_record(waiting.span, content, waiting.file, waiting.line, self._ctx)

    def _orphan(self, events: list[LogEvent]) -> None:
        where = f"trace {events[0].trace_id} span {events[0].span_id}"
        reason = "GenAI content events whose span is not in the source"
        self._ctx.tally.unusable(where, None, reason)

    def finish(self) -> Iterator[LogRecord]:
        while self._spans:
            yield from self._decide(*self._spans.popitem(last=False))
        while self._events:
            self._orphan(self._events.popitem(last=False)[1])
