"""What every target client provides: one async call per case, faults raised as CallFault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.records import Case


@dataclass(frozen=True, slots=True)
class Completion:
    """A successful attempt: the text and what the provider reported about it.

    Token counts follow the OpenTelemetry GenAI convention: ``input_tokens`` counts every
    input token, cached ones included; ``cached_tokens`` (prompt-cache reads) and
    ``cache_write_tokens`` (prompt-cache writes) are the shares of it billed differently.
    """

    output: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = None
    # The request's time on the wire, timed by the client; None: the engine times the call.
    latency_ms: float | None = None
    # What the call cost as its own code reported it (python targets); None: the engine
    # prices the tokens.
    cost_usd: float | None = None


class TargetClient(Protocol):
    """A model version the engine can call. Implementations raise ``CallFault``."""

    @property
    def config(self) -> TargetConfig: ...

    def request_identity(self, case: Case) -> dict[str, Any]:
        """The normalized request, without credentials: the cache key is its hash."""
        ...

    def prepare(self) -> None:
        """Load what a call needs (a live client imports its HTTP stack here, once).

        The engine calls it before rate limiting and timing, so a one-off start-up cost
        neither delays a granted request into a burst nor counts as latency.
        """
        ...

    async def complete(self, case: Case) -> Completion:
        """Make one attempt; raise ``faults.CallFault`` on any failure."""
        ...

    async def aclose(self) -> None: ...
