"""``litellm``: LiteLLM's ``StandardLoggingPayload``, one JSON object per line.

The payload LiteLLM hands every logging callback (``kwargs["standard_logging_object"]``;
defined in ``litellm/types/utils.py``, documented under "What gets logged?
StandardLoggingPayload" in LiteLLM's proxy logging docs, 1.x): ``id``, ``trace_id``,
``call_type``, ``stream``, ``status`` (``success``/``failure``), ``model``,
``custom_llm_provider``, ``messages`` and ``response`` (a string, a list or a dict: the
OpenAI-format ``ModelResponse``), ``prompt_tokens``, ``completion_tokens``,
``response_cost`` (USD), ``startTime``/``endTime``/``completionStartTime`` (epoch
seconds as floats), ``cache_hit``, ``request_tags``, ``model_parameters``,
``error_str`` and ``error_information`` (``error_code``, ``error_class``,
``error_message``). A line that wraps it as ``{"standard_logging_object": {...}}`` (what
a custom callback that dumps its kwargs writes) is read the same::

    {"id": "chatcmpl-7", "call_type": "acompletion", "status": "success",
     "model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}],
     "response": {"choices": [{"message": {"role": "assistant", "content": "Hello!"}}]},
     "prompt_tokens": 9, "completion_tokens": 3, "response_cost": 0.0000032,
     "startTime": 1746100800.0, "endTime": 1746100800.8, "completionStartTime": 1746100800.3,
     "cache_hit": false, "request_tags": ["support"]}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pytest_llmguard.sources.base import ReadContext, read_items, where
from pytest_llmguard.sources.content import (
    chat_messages,
    count,
    feedback_of,
    label,
    ms_between,
    number,
    replay_params,
    response_text,
)
from pytest_llmguard.sources.files import Item, LogFile
from pytest_llmguard.sources.record import Candidate, LogRecord
from pytest_llmguard.sources.window import parse_timestamp

NAME = "litellm"
_WRAPPER = "standard_logging_object"


class LiteLLM:
    name = NAME
    prefixes = ("item",)

    def detect(self, data: Mapping[str, Any]) -> bool:
        payload = data.get(_WRAPPER, data)
        return (
            isinstance(payload, Mapping)
            and "call_type" in payload
            and ("response_cost" in payload or "startTime" in payload)
        )

    def read(self, files: Sequence[LogFile], ctx: ReadContext) -> Iterator[Candidate]:
        return read_items(files, self.prefixes, ctx, convert)


def convert(item: Item, file: LogFile, ctx: ReadContext) -> Iterable[LogRecord]:
    payload = item.data.get(_WRAPPER, item.data)
    if not isinstance(payload, Mapping):
        ctx.tally.bad(file.display, item.line, f"{_WRAPPER} is not an object", strict=ctx.strict)
        return ()
    call_type = str(payload.get("call_type") or "")
    if "embedding" in call_type or "image" in call_type or "transcription" in call_type:
        ctx.tally.skip(f"litellm {call_type} calls")
        return ()
    messages = chat_messages(payload.get("messages"))
    if messages is None:
        ctx.tally.unusable(file.display, item.line, "no messages logged")
        return ()
    failed = payload.get("status") == "failure"
    answer = None if failed else response_text(payload.get("response"))
    if not failed and answer is None:
        ctx.tally.unusable(file.display, item.line, "no response text logged")
        return ()
    started = parse_timestamp(payload.get("startTime"))
    ended = parse_timestamp(payload.get("endTime"))
    first_chunk = parse_timestamp(payload.get("completionStartTime"))
    # Without streaming LiteLLM sets completionStartTime to endTime: no first chunk then.
    ttft = ms_between(started, first_chunk) if payload.get("stream") else None
    info = payload.get("error_information")
    info = info if isinstance(info, Mapping) else {}
    metadata = payload.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    error = error_message = None
    status = None
    if failed:
        error = str(info.get("error_class") or info.get("error_code") or "error")
        error_message = label(info.get("error_message") or payload.get("error_str"))
        status = count(info.get("error_code"))
    params = payload.get("model_parameters")
    tags = payload.get("request_tags")
    record = LogRecord(
        messages=messages,
        response=answer,
        provenance=where(
            file,
            item.line,
            NAME,
            trace_id=label(payload.get("trace_id")),
            request_id=label(payload.get("id")),
        ),
        model=label(payload.get("model")),
        provider=label(payload.get("custom_llm_provider")),
        started_at=started,
        ended_at=ended,
        ttft_ms=ttft,
        input_tokens=count(payload.get("prompt_tokens")),
        output_tokens=count(payload.get("completion_tokens")),
        cost_usd=number(payload.get("response_cost")),
        error=error,
        error_message=error_message,
        error_status=status,
        feedback=feedback_of(metadata.get("feedback"), ctx.feedback),
        route=label(metadata.get("route")),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        prompt_name=label(metadata.get("prompt_name")),
        prompt_version=label(metadata.get("prompt_version")),
        params=replay_params(params) if isinstance(params, Mapping) else {},
        cached=payload.get("cache_hit") is True,
    )
    return (record,)
