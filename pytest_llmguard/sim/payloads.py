"""OpenAI-shaped JSON bodies: completions, stream chunks, usage, errors, models, embeddings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from pytest_llmguard.sim.answers import Completion

_dumps = json.JSONEncoder(separators=(",", ":")).encode
# The hot path formats this template instead of encoding a dict: 3x faster, same JSON.
_COMPLETION_TEMPLATE = (
    '{"id":%s,"object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,'
    '"message":{"role":"assistant","content":%s},"finish_reason":%s}],"usage":{'
    '"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
    '"prompt_tokens_details":{"cached_tokens":%d},'
    '"completion_tokens_details":{"reasoning_tokens":%d}}}'
)


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (ASCII-escaped, so always valid UTF-8)."""
    return _dumps(value).encode()


def usage(completion: Completion, prompt_tokens: int, cached_tokens: int) -> dict[str, Any]:
    """The ``usage`` object of a chat completion."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": prompt_tokens + completion.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": completion.reasoning_tokens},
    }


def completion_body(
    *,
    cid: str,
    created: int,
    model: str,
    completion: Completion,
    prompt_tokens: int,
    cached_tokens: int,
) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.content},
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": usage(completion, prompt_tokens, cached_tokens),
    }


def completion_bytes(
    *,
    cid: str,
    created: int,
    model: str,
    completion: Completion,
    prompt_tokens: int,
    cached_tokens: int,
) -> bytes:
    """``completion_body`` as JSON bytes, formatted fast."""
    return (
        _COMPLETION_TEMPLATE
        % (
            encode_basestring_ascii(cid),
            created,
            encode_basestring_ascii(model),
            encode_basestring_ascii(completion.content),
            encode_basestring_ascii(completion.finish_reason),
            prompt_tokens,
            completion.completion_tokens,
            prompt_tokens + completion.completion_tokens,
            cached_tokens,
            completion.reasoning_tokens,
        )
    ).encode()


def chunk_object(
    cid: str, created: int, model: str, delta: dict[str, str], finish_reason: str | None
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with a single choice."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def usage_chunk_object(
    cid: str, created: int, model: str, usage_object: dict[str, Any]
) -> dict[str, Any]:
    """The extra last chunk sent when ``stream_options.include_usage`` is set."""
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_object,
    }


def sse(payload: bytes) -> bytes:
    """One server-sent event carrying ``payload``."""
    return b"data: " + payload + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def error_body(message: str, error_type: str, code: str | None, param: str | None = None) -> bytes:
    """An OpenAI-style error document."""
    return dumps({"error": {"message": message, "type": error_type, "param": param, "code": code}})


def models_body(names: Iterable[str]) -> bytes:
    """The ``GET /v1/models`` list."""
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "llmguard-sim"} for n in names]
    return dumps({"object": "list", "data": data})


def embeddings_body(model: str, vectors: Sequence[list[float]], prompt_tokens: int) -> bytes:
    """The ``POST /v1/embeddings`` response."""
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return dumps(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
