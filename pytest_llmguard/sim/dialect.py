"""The API a chat route speaks: how its requests, answers, errors and faults look.

The simulator answers every chat route the same way (model versions, answer book,
latency plan, attempt counters, fault draws, request log: ``app.SimApp``); a dialect
says what that looks like on the wire. ``app`` holds the OpenAI Chat Completions
dialect, ``anthropic`` the Anthropic Messages one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

from pytest_llmguard.sim.answers import Completion
from pytest_llmguard.sim.chat import ChatCall
from pytest_llmguard.sim.http import HttpConnection, Request
from pytest_llmguard.sim.request_body import ChatRequest

Responder = Callable[[ChatCall], None]


class CallPlan(NamedTuple):
    """What the app decided about one request, whatever the API."""

    model: str
    prompt_sha: str
    attempt: int
    prompt_tokens: int
    cached_tokens: int  # automatic prompt caching (0 for a dialect without it)
    latency_s: float
    ttft_s: float
    retry_after_s: float


class Dialect(Protocol):
    """One API's shapes; ``SimApp`` does the rest."""

    @property
    def responders(self) -> Mapping[str, Responder]:
        """Every fault this route can inject, by name (``x-sim-fault`` values)."""
        ...

    @property
    def delivers_content(self) -> frozenset[str]:
        """Faults that deliver (some of) the answer: the log counts their tokens."""
        ...

    @property
    def automatic_cache(self) -> bool:
        """Whether prompts are cached without being asked (OpenAI) or not (Anthropic)."""
        ...

    def authorized(self, req: Request, key: str) -> bool:
        """Whether ``req`` carries the API key ``key`` the way this API expects it."""
        ...

    def parse(self, req: Request) -> ChatRequest:
        """The request's parts; ValueError with the message a client sees (a 400)."""
        ...

    def error(self, status: int, message: str) -> bytes:
        """A whole error response of this API."""
        ...

    def fault_status(
        self, fault: str, headers: Mapping[str, str], draw: float | None
    ) -> int | None:
        """The status line a fault sends (None: nothing is sent); ValueError on a bad header."""
        ...

    def call(
        self,
        conn: HttpConnection,
        req: Request,
        chat: ChatRequest,
        completion: Completion,
        plan: CallPlan,
    ) -> ChatCall:
        """The call to answer (its ``status`` is set by the app afterwards)."""
        ...

    def respond(self, call: ChatCall, fault: str | None) -> None:
        """Answer ``call`` normally (fault None) or with the named fault."""
        ...

    def reset(self) -> None:
        """Forget what the dialect remembers between requests (its prompt cache)."""
        ...
