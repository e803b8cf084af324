"""The Anthropic Messages API dialect of the simulator: ``POST /v1/messages``.

Same models, answers, latencies, attempt counters and request log as the Chat
Completions route (a case asked through either API gets the same answer); on the wire
it is the Messages API: ``x-api-key`` and a required ``anthropic-version`` header, a
required ``max_tokens``, the ``system`` prompt (a string or text blocks), content blocks,
``stop_reason`` (``end_turn``, ``max_tokens``, ``refusal`` for a refusing version) and
usage whose ``input_tokens`` excludes the prompt cache. A request that marks a block
with ``cache_control`` gets its system prompt cached: the first such request of a
model writes it (``cache_creation_input_tokens``), later ones read it
(``cache_read_input_tokens``).

A stream sends ``message_start``, ``content_block_start`` and a ``ping`` at once, the
first ``content_block_delta`` at the time to first token, the rest spread over the
latency, then ``content_block_stop``, ``message_delta`` (stop reason, cumulative
``output_tokens``) and ``message_stop``.

Errors have Anthropic's shape (``{"type": "error", "error": {"type", "message"},
"request_id"}``). Faults are the Chat Completions route's (``x-sim-fault``), in this
shape, plus:

=============  ============================================================================
overloaded     529 ``overloaded_error`` after the latency
stream_error   a stream that breaks off with an ``error`` event (``overloaded_error``; with
               ``x-sim-status`` 500 ``api_error``, 429 ``rate_limit_error``, 400
               ``invalid_request_error``) after its first half; a plain request gets the 529
=============  ============================================================================

``server_error`` takes ``x-sim-status`` 500, 502, 503, 504 or 529; ``client_error``
400, 401, 403, 404, 413 or 422; ``wrong_shape`` drops ``content`` (a stream's events are
arrays), ``empty_choices`` sends ``content: []`` (a valid, empty answer).
"""

from __future__ import annotations

from collections.abc import Mapping

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.answers import Completion, count_tokens
from pytest_llmguard.sim.chat import SSE_HEAD, ChatCall, respond_normal
from pytest_llmguard.sim.dialect import CallPlan, Responder
from pytest_llmguard.sim.faults import (
    _INVALID_UTF8,
    HUGE_BYTES,
    RESPONDERS,
    _first_event,
    _play_then_end,
    _send_after,
    _status_header,
    fault_status,
    retry_after_headers,
)
from pytest_llmguard.sim.http import LAST_CHUNK, HttpConnection, Request, chunk, response
from pytest_llmguard.sim.messages import (
    ERROR_TYPES,
    MessagesCall,
    delta_event,
    error_response,
    event,
    messages_request,
    text_block,
)
from pytest_llmguard.sim.request_body import ChatRequest

SERVER_ERROR_STATUSES = (500, 502, 503, 504, 529)
CLIENT_ERROR_STATUSES = (400, 401, 403, 404, 413, 422)
_PLACEHOLDER = "\u0000sim-placeholder\u0000"


# -- faults ----------------------------------------------------------------------------


def _send_error(call: ChatCall, status: int, after: bool) -> None:
    data = error_response(status)
    if after:
        _send_after(call, data)
    else:
        call.conn.send(data)


def _rate_limit(call: ChatCall) -> None:
    headers = (*retry_after_headers(call), ("anthropic-ratelimit-requests-remaining", "0"))
    call.conn.send(error_response(429, headers=headers))


def _server_error(call: ChatCall) -> None:
    _send_error(call, call.status or 500, after=True)


def _client_error(call: ChatCall) -> None:
    _send_error(call, call.status or 400, after=False)


def _quota_exhausted(call: ChatCall) -> None:
    """Anthropic says an empty credit balance with a 400 (not OpenAI's 429)."""
    message = (
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits."
    )
    call.conn.send(error_response(400, message))


def _malformed(call: ChatCall) -> None:
    if call.stream:
        broken = _first_event(lambda data: data.replace(b'{"type"', b'{"type":,"broken', 1))
        _play_then_end(call, call.stream_plan(broken))
        return
    body = call.body()
    _send_after(call, response(200, body[: len(body) // 2]))


def _wrong_shape(call: ChatCall) -> None:
    if call.stream:
        _play_then_end(call, call.stream_plan(lambda obj: payloads.dumps([obj])))
        return
    obj = {k: v for k, v in call.body_object().items() if k != "content"}
    _send_after(call, response(200, payloads.dumps(obj)))


def _empty_content(call: ChatCall) -> None:
    if call.stream:
        plan = call.stream_plan(
            lambda obj: b"{}" if obj.get("type") == "content_block_delta" else payloads.dumps(obj)
        )
        _play_then_end(call, plan)
        return
    _send_after(call, response(200, payloads.dumps({**call.body_object(), "content": []})))


def _huge(call: ChatCall) -> None:
    # Encode a placeholder, then splice in the filler: json-encoding 50 MB would be slow.
    filler = b"lorem ipsum " * (HUGE_BYTES // 12)
    placeholder = payloads.dumps(_PLACEHOLDER)[1:-1]
    if call.stream:
        _, obj = delta_event(_PLACEHOLDER)
        data = event("content_block_delta", payloads.dumps(obj).replace(placeholder, filler))
        _send_after(call, SSE_HEAD + chunk(data) + LAST_CHUNK)
        return
    obj = call.body_object()
    obj["content"] = [text_block(_PLACEHOLDER)]
    _send_after(call, response(200, payloads.dumps(obj).replace(placeholder, filler)))


def _non_utf8(call: ChatCall) -> None:
    def broken(data: bytes) -> bytes:
        return data.replace(b'"text":"', b'"text":"' + _INVALID_UTF8, 1)

    if call.stream:
        encode = _first_event(broken)
        plan = call.stream_plan(lambda obj: encode(obj) if "delta" in obj else payloads.dumps(obj))
        _play_then_end(call, plan)
        return
    _send_after(call, response(200, broken(call.body())))


def _stream_error(call: ChatCall) -> None:
    if not call.stream:
        _send_error(call, 529, after=True)
        return
    status = int(call.headers.get("x-sim-status", "529"))
    error = {"type": ERROR_TYPES.get(status, "overloaded_error"), "message": "injected"}
    steps = call.stream_plan()[:-1]
    steps = steps[: max(2, len(steps) // 2 + 1)]
    tail = event("error", payloads.dumps({"type": "error", "error": error}))
    steps.append((steps[-1][0], chunk(tail)))
    _play_then_end(call, steps)


ANTHROPIC_RESPONDERS: Mapping[str, Responder] = {
    **RESPONDERS,  # timeout, truncated, no_done, reset, slow_trickle: the same on any API
    "rate_limit": _rate_limit,
    "server_error": _server_error,
    "client_error": _client_error,
    "quota_exhausted": _quota_exhausted,
    "malformed": _malformed,
    "wrong_shape": _wrong_shape,
    "empty_choices": _empty_content,
    "huge": _huge,
    "non_utf8": _non_utf8,
    "overloaded": _server_error,
    "stream_error": _stream_error,
}
_DELIVERS = frozenset(
    {"malformed", "wrong_shape", "empty_choices", "truncated", "no_done", "reset",
     "slow_trickle", "huge", "non_utf8", "stream_error"}
)  # fmt: skip


class AnthropicMessages:
    """The dialect of ``/v1/messages`` (see the module docstring)."""

    responders = ANTHROPIC_RESPONDERS
    delivers_content = _DELIVERS
    automatic_cache = False

    def __init__(self) -> None:
        self._cached: set[tuple[str, str]] = set()  # (model, system) written to the cache

    def authorized(self, req: Request, key: str) -> bool:
        return req.headers.get("x-api-key") == key

    def parse(self, req: Request) -> ChatRequest:
        return messages_request(req)

    def error(self, status: int, message: str) -> bytes:
        return error_response(status, message)

    def fault_status(
        self, fault: str, headers: Mapping[str, str], draw: float | None
    ) -> int | None:
        if fault == "overloaded":
            return 529
        if fault == "stream_error":  # the status is the error event's, after a 200
            _status_header(headers, (529, 500, 429, 400), 529)
            return 200
        if fault == "server_error":
            default = 500 if draw is None else (500, 529, 503)[int(draw * 3)]
            return _status_header(headers, SERVER_ERROR_STATUSES, default)
        if fault == "client_error":
            return _status_header(headers, CLIENT_ERROR_STATUSES, 400)
        return fault_status(fault, headers, draw)

    def call(
        self,
        conn: HttpConnection,
        req: Request,
        chat: ChatRequest,
        completion: Completion,
        plan: CallPlan,
    ) -> ChatCall:
        read = written = 0
        # Any block marked cache_control: a cheap look at the raw body is enough here.
        if chat.system and b'"cache_control"' in req.body:
            key = (plan.model, chat.system)
            tokens = count_tokens(chat.system)
            read, written = (tokens, 0) if key in self._cached else (0, tokens)
            self._cached.add(key)
        call = MessagesCall(
            conn,
            req.headers,
            plan.model,
            completion,
            plan.prompt_tokens,
            read,
            plan.latency_s,
            plan.ttft_s,
            chat.stream,
            True,
            f"msg_sim_{plan.prompt_sha}_{plan.attempt}",
            0,
            plan.retry_after_s,
        )
        call.cache_write = written
        return call

    def respond(self, call: ChatCall, fault: str | None) -> None:
        if fault is None:
            respond_normal(call)
        else:
            self.responders[fault](call)

    def reset(self) -> None:
        self._cached.clear()
