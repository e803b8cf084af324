"""The simulator's OpenAI Chat Completions dialect (``POST /v1/chat/completions``) and its
error bodies; ``anthropic.AnthropicMessages`` is the other dialect (see ``dialect``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.answers import Completion
from pytest_llmguard.sim.chat import ChatCall
from pytest_llmguard.sim.dialect import CallPlan, Responder
from pytest_llmguard.sim.faults import DELIVERS_CONTENT, RESPONDERS, fault_status, respond
from pytest_llmguard.sim.http import HttpConnection, Request, response
from pytest_llmguard.sim.request_body import ChatRequest, chat_request, json_object


def openai_error(status: int, message: str, code: str) -> bytes:
    error_type = "invalid_request_error" if status < 500 else "server_error"
    return response(status, payloads.error_body(message, error_type, code))


class OpenAIChat:
    """The OpenAI Chat Completions dialect (``/v1/chat/completions``)."""

    responders: Mapping[str, Responder] = RESPONDERS
    delivers_content = DELIVERS_CONTENT
    automatic_cache = True

    def authorized(self, req: Request, key: str) -> bool:
        return req.headers.get("authorization") == f"Bearer {key}"

    def parse(self, req: Request) -> ChatRequest:
        return chat_request(json_object(req.body))

    def error(self, status: int, message: str) -> bytes:
        codes = {401: "invalid_api_key", 404: "model_not_found", 400: "invalid_request_error"}
        return openai_error(status, message, codes.get(status, "invalid_request_error"))

    def fault_status(
        self, fault: str, headers: Mapping[str, str], draw: float | None
    ) -> int | None:
        return fault_status(fault, headers, draw)

    def call(
        self,
        conn: HttpConnection,
        req: Request,
        chat: ChatRequest,
        completion: Completion,
        plan: CallPlan,
    ) -> ChatCall:
        return ChatCall(
            conn,
            req.headers,
            plan.model,
            completion,
            plan.prompt_tokens,
            plan.cached_tokens,
            plan.latency_s,
            plan.ttft_s,
            chat.stream,
            chat.include_usage,
            f"chatcmpl-sim-{plan.prompt_sha}-{plan.attempt}",
            int(time.time()),
            plan.retry_after_s,
        )

    def respond(self, call: ChatCall, fault: str | None) -> None:
        respond(call, fault)

    def reset(self) -> None:
        return None
