"""``langfuse``: Langfuse observations (JSONL or JSON from its export or its public API)
and their scores as feedback.

Shapes as in Langfuse's public API definition (``fern/apis/server/definition/
commons.yml`` and ``observations.yml`` of langfuse/langfuse, API v1 ``ObservationsView``
and the v2 fields): a ``GENERATION`` observation has ``id``, ``traceId``, ``type``,
``startTime``, ``endTime``, ``completionStartTime`` (ISO 8601), ``model``,
``modelParameters``, ``input`` (the chat messages, or ``{"messages": [...]}``, or a
string), ``output``, ``usageDetails`` (``input``, ``output``, ``total``; the legacy
``usage`` too), ``costDetails`` (``input``, ``output``, ``total``; else
``calculatedTotalCost``), ``level`` (``DEBUG``/``DEFAULT``/``WARNING``/``ERROR``),
``statusMessage``, ``promptName``, ``promptVersion``, ``metadata``. Scores (``name``,
``value``, ``stringValue``, ``dataType``: ``NUMERIC``/``BOOLEAN``/``CATEGORICAL``,
``observationId``, ``traceId``) in the same or other files of the source are joined to
their observation, or to every generation of their trace, as feedback.

A file holds one object per line, or a JSON array, or an API page ``{"data": [...]}``;
an object may be an observation, a score, or a trace with its ``observations`` and
``scores`` (``GET /api/public/traces/{id}``). The files are read twice: first for the
scores (kept in memory, one small entry each), then for the observations::

    {"id": "obs-1", "traceId": "tr-1", "type": "GENERATION", "model": "gpt-4o-mini",
     "startTime": "2025-05-01T12:00:00.000Z", "endTime": "2025-05-01T12:00:00.812Z",
     "input": [{"role": "user", "content": "Hi"}],
     "output": {"role": "assistant", "content": "Hello!"},
     "usageDetails": {"input": 9, "output": 3}, "costDetails": {"total": 0.0000032},
     "level": "DEFAULT", "promptName": "greeter", "promptVersion": 3}
    {"id": "sc-1", "traceId": "tr-1", "observationId": "obs-1", "name": "user-feedback",
     "dataType": "BOOLEAN", "value": 0, "stringValue": "False"}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pytest_llmguard.sources.base import ReadContext, where
from pytest_llmguard.sources.content import (
    chat_messages,
    count,
    feedback_of,
    is_feedback,
    label,
    ms_between,
    number,
    replay_params,
    response_text,
)
from pytest_llmguard.sources.files import LogFile, items
from pytest_llmguard.sources.record import Candidate, Feedback, LogRecord
from pytest_llmguard.sources.tally import Tally
from pytest_llmguard.sources.window import parse_timestamp

NAME = "langfuse"
_TYPES = ("GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EMBEDDING")
_SCORE_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL")


class Langfuse:
    name = NAME
    prefixes = ("item", "data.item")

    def detect(self, data: Mapping[str, Any]) -> bool:
        inner = data.get("data")
        if isinstance(inner, list) and inner and isinstance(inner[0], Mapping):
            return self.detect(inner[0])
        if isinstance(data.get("observations"), list):
            return True
        if data.get("dataType") in _SCORE_TYPES and "traceId" in data:
            return True
        return data.get("type") in _TYPES and ("traceId" in data or "startTime" in data)

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[Candidate]:
        feedback = _Feedback(ctx)
        # First the scores (a throwaway tally: the lines are counted once, below), so
        # that every generation finds its feedback.
        for file in files:
            for item in items(file, self.prefixes, Tally(), strict=False):
                for kind, obj in _objects(item.data):
                    if kind == "score":
                        feedback.add(obj)
        for file in files:
            for item in items(file, self.prefixes, ctx.tally, strict=ctx.strict):
                for kind, obj in _objects(item.data):
                    if kind != "observation":
                        continue
                    record = _convert(obj, file, item.line, ctx, feedback)
                    if record is not None:
                        ctx.tally.record()
                        yield record


def _objects(data: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The observations and scores in one object (a page, a trace, or one of them)."""
    for key, kind in (("data", None), ("observations", "observation"), ("scores", "score")):
        nested = data.get(key)
        if isinstance(nested, list):
            for obj in nested:
                if isinstance(obj, Mapping):
                    yield from ((kind, obj),) if kind else _objects(obj)
    if data.get("dataType") in _SCORE_TYPES:
        yield "score", data
    elif data.get("type") in _TYPES:
        yield "observation", data


class _Feedback:
    """Scores by observation id and by trace id, as feedback (the worst one wins)."""

    def __init__(self, ctx: ReadContext) -> None:
        self._settings = ctx.feedback
        self._by_observation: dict[str, tuple[Feedback, str]] = {}
        self._by_trace: dict[str, tuple[Feedback, str]] = {}

    def add(self, score: Mapping[str, Any]) -> None:
        name = str(score.get("name") or "")
        if not is_feedback(name, self._settings):
            return
        kind = score.get("dataType")
        value = score.get("stringValue") if kind == "CATEGORICAL" else score.get("value")
        if kind == "BOOLEAN":
            value = bool(number(value))
        verdict = feedback_of(value, self._settings)
        if verdict is None:
            return
        found = (verdict, f"{name} = {score.get('stringValue', value)} ({kind})")
        observation = label(score.get("observationId"))
        key, table = (
            (observation, self._by_observation)
            if observation
            else (label(score.get("traceId")), self._by_trace)
        )
        if key and (key not in table or table[key][0] != "negative"):
            table[key] = found

    def of(self, observation_id: str | None, trace_id: str | None) -> tuple[Feedback, str] | None:
        return self._by_observation.get(observation_id or "") or self._by_trace.get(trace_id or "")


def _convert(
    obs: Mapping[str, Any],
    file: LogFile,
    line: int | None,
    ctx: ReadContext,
    feedback: _Feedback,
) -> LogRecord | None:
    if obs.get("type") != "GENERATION":
        ctx.tally.skip(f"langfuse {str(obs.get('type')).lower()} observations")
        return None
    messages = chat_messages(obs.get("input"))
    if messages is None:
        ctx.tally.unusable(file.display, line, "generation without chat input")
        return None
    failed = obs.get("level") == "ERROR"
    answer = response_text(obs.get("output"))
    if answer is None and not failed:
        ctx.tally.unusable(file.display, line, "generation without output")
        return None
    started = parse_timestamp(obs.get("startTime"))
    ended = parse_timestamp(obs.get("endTime"))
    first_token = parse_timestamp(obs.get("completionStartTime"))
    ttft = number(obs.get("timeToFirstToken"))
    ttft_ms = ttft * 1000.0 if ttft is not None else None
    if ttft_ms is None:
        ttft_ms = ms_between(started, first_token)
    latency = number(obs.get("latency"))
    usage = _mapping(obs.get("usageDetails")) or _mapping(obs.get("usage"))
    costs = _mapping(obs.get("costDetails"))
    cost = number(costs.get("total"))
    if cost is None:
        cost = number(obs.get("calculatedTotalCost")) or number(obs.get("totalCost"))
    obs_id, trace_id = label(obs.get("id")), label(obs.get("traceId"))
    verdict = feedback.of(obs_id, trace_id)
    metadata = _mapping(obs.get("metadata"))
    params = _mapping(obs.get("modelParameters"))
    tags = metadata.get("tags")
    return LogRecord(
        messages=messages,
        response=None if failed else answer,
        provenance=where(file, line, NAME, trace_id=trace_id, observation_id=obs_id),
        model=label(obs.get("model")),
        provider=label(metadata.get("provider") or metadata.get("ls_provider")),
        started_at=started,
        ended_at=ended,
        latency_ms=latency * 1000.0 if latency is not None else None,
        ttft_ms=ttft_ms,
        input_tokens=count(usage.get("input")),
        output_tokens=count(usage.get("output")),
        cached_tokens=count(usage.get("input_cached_tokens") or usage.get("cache_read")),
        cost_usd=cost,
        error=("ERROR" if failed else None),
        error_message=label(obs.get("statusMessage")) if failed else None,
        feedback=verdict[0] if verdict else None,
        feedback_detail=verdict[1] if verdict else None,
        route=label(metadata.get("route")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        prompt_name=label(obs.get("promptName")),
        prompt_version=label(obs.get("promptVersion")),
        params=replay_params(params),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
