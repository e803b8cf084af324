"""What every target client provides: one async call per case, faults raised as CallFault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.records import Case


@dataclass(frozen=True, slots=True)
class Completion:
    """A successful attempt: the text and what the provider reported about it."""

    output: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = None


class TargetClient(Protocol):
    """A model version the engine can call. Implementations raise ``CallFault``."""

    @property
    def config(self) -> TargetConfig: ...

    def request_identity(self, case: Case) -> dict[str, Any]:
        """The normalized request, without credentials: the cache key is its hash."""
        ...

    async def complete(self, case: Case) -> Completion:
        """Make one attempt; raise ``faults.CallFault`` on any failure."""
        ...

    async def aclose(self) -> None: ...
