"""Endpoints: the usual opened provider, each target an HTTP endpoint at a base URL.

A provider whose targets need nothing started (``openai``) yields one from ``open``
as is; one that starts a server first (``sim``) yields one pointing at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pytest_llmguard.config import RunConfig, TargetConfig
from pytest_llmguard.targets.base import TargetClient
from pytest_llmguard.targets.embeddings import EmbeddingClient

ClientFactory = Callable[[TargetConfig, str, RunConfig], TargetClient]


@dataclass(frozen=True, slots=True)
class HttpEndpoints:
    """Clients made by ``make(target, base_url, run)``; embeddings at the same base URL."""

    base_urls: Mapping[str, str]  # target name -> base URL
    run: RunConfig
    make: ClientFactory

    def client(self, target: TargetConfig) -> TargetClient:
        return self.make(target, self.base_urls[target.name], self.run)

    def embedder(self, target: TargetConfig, model: str) -> EmbeddingClient | None:
        return EmbeddingClient(target, self.base_urls[target.name], model)
