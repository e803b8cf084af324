"""``LogRecord``: one logged model call, whatever format it was read from.

Every reader turns its format's record into this normalised shape; sampling, cases and
the production baseline read only this. Content is as logged (not yet redacted): a
``LogRecord`` lives in memory only, and everything written from it goes through
``sources.cases``, which redacts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pytest_llmguard.records import ErrorClass, Message, Provenance

__all__ = ["Candidate", "Feedback", "LogRecord", "error_class"]

Feedback = Literal["positive", "negative", "neutral"]


class Candidate(Protocol):
    """What sampling needs of a record before it is chosen: its identity, its time and
    its strata. A reader may yield these instead of whole records, so that a record is
    normalised (``record()``) only if the sample keeps it: ``LogRecord`` is its own."""

    @property
    def identity(self) -> str: ...

    @property
    def started_at(self) -> float | None: ...

    def field(self, name: str) -> str: ...

    def record(self) -> LogRecord: ...


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A logged model call: the conversation, the response and what it cost.

    Times are unix seconds; ``latency_ms`` is the logged duration (or end - start);
    ``error`` is the error type as logged (``RateLimitError``, ``429``, ``timeout``);
    ``feedback`` is the user's verdict where the log has one (``logs.feedback`` says
    which values are negative); ``params`` are the request parameters worth replaying.
    """

    messages: tuple[Message, ...]
    response: str | None
    provenance: Provenance
    model: str | None = None
    provider: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    error_message: str | None = None
    error_status: int | None = None
    finish_reason: str | None = None
    feedback: Feedback | None = None
    feedback_detail: str | None = None  # e.g. "user-feedback = 0 (NUMERIC)"
    route: str | None = None
    tags: tuple[str, ...] = ()
    prompt_name: str | None = None
    prompt_version: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    cached: bool = False  # served from the application's own cache (LiteLLM cache_hit)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def error_class(self) -> ErrorClass | None:
        """The logged failure's class (``rate_limit``, ``timeout``...), None for a success."""
        if self.error is None:
            return None
        return error_class(self.error, self.error_status, self.error_message)

    def record(self) -> LogRecord:
        """Itself: a LogRecord is a sampling candidate that is already whole."""
        return self

    @property
    def latency(self) -> float | None:
        """The logged latency in ms, else the span from start to end."""
        if self.latency_ms is not None:
            return self.latency_ms
        if self.started_at is not None and self.ended_at is not None:
            # microsecond precision: nanosecond timestamps lose their last digits as floats
            elapsed = round((self.ended_at - self.started_at) * 1000.0, 3)
            return elapsed if elapsed >= 0 else None
        return None

    def field(self, name: str) -> str:
        """The value of a stratification field (``logs.sample.by``), ``-`` when unknown."""
        value: str | None
        if name == "tag":
            value = ",".join(sorted(self.tags)) or None
        elif name == "prompt":
            value = self.prompt_name
            if value is not None and self.prompt_version is not None:
                value = f"{value}@{self.prompt_version}"
        elif name == "source":
            value = self.provenance.file
        elif name == "feedback":
            value = self.feedback
        elif name == "error":
            value = self.error_class
        else:
            value = getattr(self, name)
        return "-" if value is None else str(value)

    @property
    def identity(self) -> str:
        """A stable identity of the record: its ids where the log has them, else its content.

        It does not depend on the file name or the line, so the same record sampled from
        a renamed or reordered export keeps its case id.
        """
        p = self.provenance
        ids = [x for x in (p.trace_id, p.span_id, p.observation_id, p.request_id) if x]
        if ids:
            return "ids:" + "/".join(ids)
        digest = hashlib.sha256()
        for m in self.messages:
            digest.update(f"{m.role}\0{m.content}\0".encode())
        digest.update(f"\1{self.response}\1{self.started_at}\1{self.model}".encode())
        return "content:" + digest.hexdigest()

    @property
    def prompt_text(self) -> str:
        """The conversation as one text, for near-duplicate detection."""
        return "\n".join(m.content for m in self.messages)


def error_class(error: str | None, status: int | None, message: str | None) -> ErrorClass:
    """The error class of a logged failure, read from its status, type and message."""
    if status == 429:
        return "rate_limit"
    if status is not None and status >= 500:
        return "server_error"
    if status == 408:
        return "timeout"
    if status is not None and status >= 400:
        return "client_error"
    words = f"{error or ''} {message or ''}".lower().replace("_", " ")
    if ("rate" in words and "limit" in words) or "429" in words or "quota" in words:
        return "rate_limit"
    if "timeout" in words or "timed out" in words or "deadline" in words:
        return "timeout"
    if "connect" in words or "network" in words or "reset" in words:
        return "connection"
    client = ("bad request", "invalid", "auth", "permission", "not found", "content filter")
    if any(w in words for w in client):
        return "client_error"
    if "pars" in words or "json" in words or "decode" in words:
        return "invalid_response"
    # An unclassified provider failure: the server side is the likelier cause.
    return "server_error"
