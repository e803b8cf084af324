"""The log formats by name, and ``format: auto``, which tells them apart by their records.

Detection reads the first record of each file (a JSONL line, or the first item of a
JSON document) and asks each format in turn; trace exports first (their envelope is
unmistakable), OpenAI-style request/response pairs last (the loosest shape).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmguard.exceptions import LogSourceError
from pytest_llmguard.sources.base import LogFormat
from pytest_llmguard.sources.files import LogFile, items
from pytest_llmguard.sources.langfuse import Langfuse
from pytest_llmguard.sources.litellm import LiteLLM
from pytest_llmguard.sources.openai_jsonl import OpenAIJsonl
from pytest_llmguard.sources.tally import Tally
from pytest_llmguard.sources.traces import Traces

__all__ = ["FORMATS", "detect", "get_format"]

FORMATS: Mapping[str, LogFormat] = {
    "otel": Traces("otel", ("otel",)),
    "openinference": Traces("openinference", ("openinference",)),
    "litellm": LiteLLM(),
    "langfuse": Langfuse(),
    "openai-jsonl": OpenAIJsonl(),
}
# A trace export may hold both conventions: auto reads each span by its own.
TRACES = Traces("otel", ("otel", "openinference"))
_ALL_PREFIXES = tuple(dict.fromkeys(p for f in FORMATS.values() for p in f.prefixes))
DOCS = "replaying-production-logs"


def get_format(name: str) -> LogFormat:
    return FORMATS[name]


def detect(file: LogFile) -> LogFormat:
    """The format of a file, from its first record; LogSourceError if none matches."""
    first: dict[str, Any] | None = None
    for item in items(file, _ALL_PREFIXES, Tally(), strict=False):
        first = item.data
        break
    if first is None:
        raise LogSourceError(
            "no record to tell the format from (the file is empty or unreadable)",
            file=file.display,
            hint="name the format: logs.sources[].format",
            docs=DOCS,
        )
    if "resourceSpans" in first or "resourceLogs" in first or _is_span(first):
        return TRACES
    for name in ("openinference", "litellm", "langfuse", "openai-jsonl"):
        if FORMATS[name].detect(first):
            return TRACES if name == "openinference" else FORMATS[name]
    keys = ", ".join(sorted(first)[:8])
    raise LogSourceError(
        f"cannot tell the log format from the first record (keys: {keys})",
        file=file.display,
        hint=f"name it with logs.sources[].format: one of {', '.join(FORMATS)}",
        docs=DOCS,
    )


def _is_span(data: Mapping[str, Any]) -> bool:
    """A streamed OTLP span (``traceId``, ``spanId``, ``startTimeUnixNano``)."""
    return "spanId" in data and "startTimeUnixNano" in data
