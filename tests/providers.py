"""A stand-in provider for tests, registered at run time as a plugin's would be.

Its client answers in-process: each case with its reference (``expected``), or with the
target's ``reply`` key when it sets one; no network, no simulator.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion, TargetClient
from pytest_llmguard.targets.embeddings import EmbeddingClient
from pytest_llmguard.targets.registry import Problem, ProviderContext


class EchoClient:
    """Answers each case with the target's ``reply``, else the case's ``expected``."""

    def __init__(self, target: TargetConfig) -> None:
        self._config = target

    @property
    def config(self) -> TargetConfig:
        return self._config

    def request_identity(self, case: Case) -> dict[str, Any]:
        return {"provider": self._config.provider, "case": case.key, **self._config.extra}

    def prepare(self) -> None:
        pass

    async def complete(self, case: Case) -> Completion:
        reply = self._config.extra.get("reply", case.expected or "")
        return Completion(output=str(reply), model=self._config.model, output_tokens=3)

    async def aclose(self) -> None:
        pass


@dataclass(frozen=True)
class StubEndpoints:
    def client(self, target: TargetConfig) -> TargetClient:
        return EchoClient(target)

    def embedder(self, target: TargetConfig, model: str) -> EmbeddingClient | None:
        return None


@dataclass(frozen=True)
class StubProvider:
    """A provider answering in-process; ``check`` rejects the model name ``bad``."""

    name: str
    config_keys: tuple[str, ...] = ()
    default_key_env: str | None = None
    default_base_url: str | None = None

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        if target.model == "bad":
            return Problem("model 'bad' is not served here", key="model")
        return None

    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> AbstractContextManager[StubEndpoints]:
        return nullcontext(StubEndpoints())
