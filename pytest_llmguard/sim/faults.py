"""Injected faults: what a broken provider does, one responder per fault name.

A fault comes from a model's rates (drawn per attempt, so a retry can succeed) or from a
request header, for tests that need an exact fault matrix:

``x-sim-fault: NAME``        always apply NAME;
``x-sim-fault-once: NAME``   apply NAME only on the first attempt of this (model, prompt);
``x-sim-status: CODE``       the status of ``server_error`` (500/502/503/504) or
                             ``client_error`` (400/401/403/404/422);
``x-sim-retry-after: S``     Retry-After seconds of ``rate_limit`` (default: the model's);
``x-sim-retry-after-date: 1``  send Retry-After as an HTTP date instead of seconds;
``x-sim-no-retry-after: 1``    send a 429 without any Retry-After header.

=============  ============================================================================
timeout        never answers; the connection is held until the client gives up
rate_limit     429 at once, ``Retry-After`` and ``retry-after-ms`` headers
quota_exhausted  429 at once, no ``Retry-After``, OpenAI's ``insufficient_quota`` error
               (the account's quota or credit is used up: waiting does not help)
server_error   5xx after the latency
client_error   4xx at once
malformed      200 after the latency, body is not valid JSON (stream: first event broken)
wrong_shape    200, valid JSON without ``choices``
empty_choices  200, ``choices: []``
truncated      Content-Length (or the stream) promises more than is sent; then FIN
no_done        stream ends cleanly but without ``data: [DONE]``; the connection closes
reset          half the body, then a TCP reset
slow_trickle   headers at the time to first token, then one body byte every 200 ms
huge           a valid completion of about 50 MB
non_utf8       the content bytes are not valid UTF-8
interrupted    stream: a few chunks, then ``data: [DONE]`` with no ``finish_reason`` (what
               llama-cpp-python's ``interrupt_requests`` does to a stream when another
               request arrives); a plain request is answered normally
no_usage       no ``usage``: the stream ignores ``stream_options.include_usage`` (llama.cpp
               server), a plain body has no ``usage`` object
=============  ============================================================================
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.chat import SSE_HEAD, ChatCall, Step, play, respond_normal
from pytest_llmguard.sim.determinism import unit
from pytest_llmguard.sim.http import LAST_CHUNK, HttpConnection, chunk, head, response
from pytest_llmguard.sim.models import SimModel

TRICKLE_INTERVAL_S = 0.2
HUGE_BYTES = 50 * 1024 * 1024
_RESET_GRACE_S = 0.02  # lets the half body reach the client before the reset
_PLACEHOLDER = "\u0000sim-placeholder\u0000"
_PLACEHOLDER_JSON = payloads.dumps(_PLACEHOLDER)[1:-1]
_INVALID_UTF8 = b"caf\xe9 \xff\xfe invalid \xc3\x28 bytes "

SERVER_ERROR_STATUSES = (500, 502, 503, 504)
CLIENT_ERROR_STATUSES = (400, 401, 403, 404, 422)
_CLIENT_ERRORS: Mapping[int, tuple[str, str, str]] = {
    400: ("Invalid request (injected by x-sim-fault).", "invalid_request_error", "bad_request"),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", "forbidden"),
    404: ("The model does not exist.", "invalid_request_error", "model_not_found"),
    422: ("Unprocessable request.", "invalid_request_error", "unprocessable_entity"),
}


def pick_fault(model: SimModel, seed: int, prompt_sha: str, attempt: int | str) -> str | None:
    """The fault the model's rates give this attempt, or None."""
    if model.fault_rate <= 0.0:
        return None
    u = unit(seed, "fault", model.name, prompt_sha, attempt)
    for name, rate in (
        ("timeout", model.timeout_rate),
        ("rate_limit", model.rate_limit_rate),
        ("server_error", model.server_error_rate),
        ("malformed", model.malformed_rate),
        ("truncated", model.truncated_rate),
    ):
        if u < rate:
            return name
        u -= rate
    return None


def fault_status(fault: str, headers: Mapping[str, str], draw: float | None) -> int | None:
    """The status line a fault sends (None: nothing is ever sent).

    ``draw`` (0..1) picks 500/502/503 for a server error drawn from the model's rates;
    None (a fault asked for by header) means 500 unless ``x-sim-status`` says otherwise.

    Raises ValueError naming the header when ``x-sim-status`` does not fit the fault.
    """
    if fault == "timeout":
        return None
    if fault in ("rate_limit", "quota_exhausted"):
        return 429
    if fault == "server_error":
        default = 500 if draw is None else (500, 502, 503)[int(draw * 3)]
        return _status_header(headers, SERVER_ERROR_STATUSES, default)
    if fault == "client_error":
        return _status_header(headers, CLIENT_ERROR_STATUSES, 400)
    return 200


class SimOverrides(NamedTuple):
    """The ``x-sim-*`` request headers that steer one chat request."""

    fault: str | None = None
    fault_once: str | None = None
    latency_ms: float | None = None
    retry_after_s: float | None = None


NO_OVERRIDES = SimOverrides()


def sim_overrides(
    headers: Mapping[str, str], faults: Collection[str] | None = None
) -> SimOverrides:
    """Read the ``x-sim-*`` headers; raises ValueError naming a header with a bad value.

    ``faults``: the fault names the route knows (default: the Chat Completions ones).
    """
    if not any(name.startswith("x-sim-") for name in headers):
        return NO_OVERRIDES
    known = RESPONDERS if faults is None else faults
    return SimOverrides(
        _fault_name(headers, "x-sim-fault", known),
        _fault_name(headers, "x-sim-fault-once", known),
        _non_negative(headers, "x-sim-latency-ms", "a number of milliseconds"),
        _non_negative(headers, "x-sim-retry-after", "a number of seconds"),
    )


def _fault_name(headers: Mapping[str, str], name: str, known: Collection[str]) -> str | None:
    fault = headers.get(name)
    if fault is None or fault in known:
        return fault
    raise ValueError(f"{name}: unknown fault {fault!r}; valid: {', '.join(known)}")


def _non_negative(headers: Mapping[str, str], name: str, what: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0.0:
        raise ValueError(f"{name} must be {what} >= 0, got {raw!r}")
    return value


def _status_header(headers: Mapping[str, str], allowed: tuple[int, ...], default: int) -> int:
    raw = headers.get("x-sim-status")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in allowed:
        valid = ", ".join(map(str, allowed))
        raise ValueError(f"x-sim-status must be one of {valid} for this fault, got {raw!r}")
    return int(raw)


# -- responders ----------------------------------------------------------------------


def _timeout(call: ChatCall) -> None:
    """Hold the connection: the client's timeout is the only way out."""


def _rate_limit(call: ChatCall) -> None:
    body = payloads.error_body(
        "Rate limit reached for requests. Please try again later.",
        "requests",
        "rate_limit_exceeded",
    )
    call.conn.send(response(429, body, headers=retry_after_headers(call)))


def _quota_exhausted(call: ChatCall) -> None:
    body = payloads.error_body(
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    )
    call.conn.send(response(429, body))


def retry_after_headers(call: ChatCall) -> tuple[tuple[str, str], ...]:
    """``Retry-After`` (seconds, or a date with ``x-sim-retry-after-date: 1``) and
    ``retry-after-ms``; none at all with ``x-sim-no-retry-after: 1``."""
    if call.headers.get("x-sim-no-retry-after") == "1":
        return ()
    seconds = call.retry_after_s
    if call.headers.get("x-sim-retry-after-date") == "1":
        retry_after = email.utils.formatdate(time.time() + seconds, usegmt=True)
    else:
        retry_after = f"{seconds:g}"
    return (("Retry-After", retry_after), ("retry-after-ms", str(round(seconds * 1000))))


def _server_error(call: ChatCall) -> None:
    body = payloads.error_body(
        "The server had an error while processing your request.", "server_error", None
    )
    _send_after(call, response(call.status or 500, body))


def _client_error(call: ChatCall) -> None:
    status = call.status or 400
    message, error_type, code = _CLIENT_ERRORS[status]
    call.conn.send(response(status, payloads.error_body(message, error_type, code)))


def _malformed(call: ChatCall) -> None:
    if call.stream:
        encode = _first_event(lambda data: data.replace(b'{"id"', b'{"id":,"broken', 1))
        _play_then_end(call, call.stream_plan(encode))
        return
    body = call.body()
    _send_after(call, response(200, body[: len(body) // 2]))


def _wrong_shape(call: ChatCall) -> None:
    _send_altered(call, lambda obj: {k: v for k, v in obj.items() if k != "choices"})


def _empty_choices(call: ChatCall) -> None:
    _send_altered(call, lambda obj: {**obj, "choices": []})


def _send_altered(call: ChatCall, alter: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    if call.stream:
        _play_then_end(call, call.stream_plan(lambda obj: payloads.dumps(alter(obj))))
        return
    _send_after(call, response(200, payloads.dumps(alter(call.body_object()))))


def _truncated(call: ChatCall) -> None:
    conn = call.conn
    if call.stream:
        steps = call.stream_plan()
        play(conn, steps[: max(1, len(steps) // 2)], conn.close)
        return
    body = call.body()
    data = head(200, length=len(body)) + body[: len(body) // 2]
    conn.later(call.latency_s, _write_then, conn, data, conn.close)


def _no_done(call: ChatCall) -> None:
    conn = call.conn
    conn.keep_alive = False
    if call.stream:
        play(conn, call.stream_plan(done=False), lambda: conn.send(LAST_CHUNK))
        return
    _send_after(call, response(200, call.body(), close=True))


def _reset(call: ChatCall) -> None:
    conn = call.conn
    if call.stream:
        steps = call.stream_plan()
        play(conn, steps[: max(1, len(steps) // 2)], lambda: conn.later(_RESET_GRACE_S, conn.reset))
        return
    body = call.body()
    data = head(200, length=len(body)) + body[: len(body) // 2]
    conn.later(call.ttft_s, _write_then, conn, data, lambda: conn.later(_RESET_GRACE_S, conn.reset))


def _slow_trickle(call: ChatCall) -> None:
    if call.stream:
        data = b"".join(step for _, step in call.stream_plan())[len(SSE_HEAD) :]
        framed_head, pieces = SSE_HEAD, [chunk(data[i : i + 1]) for i in range(len(data))]
        pieces.append(LAST_CHUNK)
    else:
        body = call.body()
        framed_head, pieces = (
            head(200, length=len(body)),
            [body[i : i + 1] for i in range(len(body))],
        )
    steps: list[Step] = [(call.ttft_s, framed_head)]
    steps.extend((call.ttft_s + TRICKLE_INTERVAL_S * (i + 1), p) for i, p in enumerate(pieces))
    play(call.conn, steps, call.conn.end)


def _huge(call: ChatCall) -> None:
    # Encode a placeholder, then splice in the filler: json-encoding 50 MB would be slow.
    filler = b"lorem ipsum " * (HUGE_BYTES // 12)
    if call.stream:
        obj = payloads.chunk_object(
            call.cid, call.created, call.model, {"content": _PLACEHOLDER}, "stop"
        )
        event = payloads.dumps(obj).replace(_PLACEHOLDER_JSON, filler)
        data = SSE_HEAD + chunk(payloads.sse(event) + payloads.SSE_DONE) + LAST_CHUNK
    else:
        obj = call.body_object()
        obj["choices"][0]["message"]["content"] = _PLACEHOLDER
        data = response(200, payloads.dumps(obj).replace(_PLACEHOLDER_JSON, filler))
    _send_after(call, data)


def _non_utf8(call: ChatCall) -> None:
    if call.stream:
        _play_then_end(call, call.stream_plan(_first_event(_break_utf8)))
        return
    body = _break_utf8(call.body())
    _send_after(call, response(200, body, content_type="application/json; charset=utf-8"))


def _interrupted(call: ChatCall) -> None:
    if not call.stream:
        respond_normal(call)
        return
    steps = call.stream_plan(done=False)
    # Never the last group: it holds the finish_reason (and usage) a cut stream lacks.
    kept = steps[: max(1, min(3, len(steps) - 1))]
    kept.append((kept[-1][0], chunk(payloads.SSE_DONE)))
    _play_then_end(call, kept)


def _no_usage(call: ChatCall) -> None:
    call.include_usage = False
    if call.stream:
        respond_normal(call)
        return
    body = {k: v for k, v in call.body_object().items() if k != "usage"}
    _send_after(call, response(200, payloads.dumps(body)))


def _break_utf8(data: bytes) -> bytes:
    return data.replace(b'"content":"', b'"content":"' + _INVALID_UTF8, 1)


def _first_event(alter: Callable[[bytes], bytes]) -> Callable[[dict[str, Any]], bytes]:
    """An event encoder that alters only the first event of a stream."""
    encoded: list[bool] = []

    def encode(obj: dict[str, Any]) -> bytes:
        data = payloads.dumps(obj)
        if encoded:
            return data
        encoded.append(True)
        return alter(data)

    return encode


def _send_after(call: ChatCall, data: bytes) -> None:
    conn = call.conn
    conn.later(call.latency_s, conn.send, data)


def _play_then_end(call: ChatCall, steps: list[Step]) -> None:
    conn = call.conn
    play(conn, steps, lambda: conn.send(LAST_CHUNK))


def _write_then(conn: HttpConnection, data: bytes, then: Callable[[], None]) -> None:
    conn.write(data)
    then()


RESPONDERS: Mapping[str, Callable[[ChatCall], None]] = {
    "timeout": _timeout,
    "rate_limit": _rate_limit,
    "quota_exhausted": _quota_exhausted,
    "server_error": _server_error,
    "client_error": _client_error,
    "malformed": _malformed,
    "wrong_shape": _wrong_shape,
    "empty_choices": _empty_choices,
    "truncated": _truncated,
    "no_done": _no_done,
    "reset": _reset,
    "slow_trickle": _slow_trickle,
    "huge": _huge,
    "non_utf8": _non_utf8,
    "interrupted": _interrupted,
    "no_usage": _no_usage,
}
FAULT_NAMES: tuple[str, ...] = tuple(RESPONDERS)
# Faults that deliver (some of) the answer: the log counts their completion tokens.
DELIVERS_CONTENT = frozenset(
    {"malformed", "wrong_shape", "empty_choices", "truncated", "no_done", "reset",
     "slow_trickle", "huge", "non_utf8", "interrupted", "no_usage"}
)  # fmt: skip


def respond(call: ChatCall, fault: str | None) -> None:
    """Answer ``call`` normally (fault None) or with the named fault."""
    if fault is None:
        respond_normal(call)
    else:
        RESPONDERS[fault](call)
