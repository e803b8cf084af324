"""Target clients: build one client per configured target."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence

from pytest_llmguard.config import Config, TargetConfig
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion, TargetClient
from pytest_llmguard.targets.embeddings import EmbeddingClient
from pytest_llmguard.targets.openai import OpenAIClient

__all__ = ["Completion", "OpenedTargets", "TargetClient", "build_clients", "open_targets"]

IMPLEMENTED_PROVIDERS = ("openai", "sim")
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"


class MissingCredentials:
    """Stands in for a target whose API key variable is unset: every call fails clearly.

    The run goes on for the other targets; this target's items fail with the message.
    """

    def __init__(self, config: TargetConfig, message: str) -> None:
        self._config = config
        self.message = message

    @property
    def config(self) -> TargetConfig:
        return self._config

    def request_identity(self, case: Case) -> dict[str, object]:
        return {"provider": self._config.provider, "model": self._config.model, "case": case.key}

    def prepare(self) -> None:
        pass

    async def complete(self, case: Case) -> Completion:
        raise CallFault("client_error", self.message)

    async def aclose(self) -> None:
        return None


def missing_key_message(target: TargetConfig) -> str | None:
    """Why ``target`` cannot authenticate, or None when it can (or needs no key)."""
    if target.api_key_env and not os.environ.get(target.api_key_env):
        return (
            f"environment variable {target.api_key_env} is not set "
            f"(targets.{target.name}.api_key_env); export it, or remove api_key_env "
            "for an endpoint that needs no key"
        )
    return None


def build_clients(
    config: Config,
    targets: Mapping[str, TargetConfig],
    *,
    sim_base_url: str | None = None,
) -> dict[str, TargetClient]:
    """One client per target. ``sim`` targets without a base_url use ``sim_base_url``."""
    clients: dict[str, TargetClient] = {}
    for name, target in targets.items():
        if target.provider not in IMPLEMENTED_PROVIDERS:
            raise ConfigError(
                f"provider '{target.provider}' is not available in this version",
                file=config.path,
                key_path=f"targets.{name}.provider",
                hint=f"available providers: {', '.join(IMPLEMENTED_PROVIDERS)}",
            )
        problem = missing_key_message(target)
        if problem:
            clients[name] = MissingCredentials(target, problem)
            continue
        base_url = target.base_url
        if base_url is None:
            base_url = sim_base_url if target.provider == "sim" else DEFAULT_OPENAI_URL
        if base_url is None:
            raise ConfigError(
                "sim target has no base_url and no simulator is running",
                file=config.path,
                key_path=f"targets.{name}",
            )
        concurrency = target.concurrency or config.run.concurrency
        clients[name] = OpenAIClient(
            target,
            base_url=base_url,
            api_key=os.environ.get(target.api_key_env) if target.api_key_env else None,
            timeout_s=target.timeout_s or config.run.timeout_s,
            max_connections=concurrency,
        )
    return clients


class OpenedTargets:
    """Targets ready to call for a whole run: fresh clients on demand, and embedders."""

    def __init__(self, config: Config, sim_url: str | None) -> None:
        self._config = config
        self._sim_url = sim_url

    def clients(self, names: Sequence[str]) -> dict[str, TargetClient]:
        targets = {n: self._config.targets[n] for n in names}
        return build_clients(self._config, targets, sim_base_url=self._sim_url)

    def client_for(self, target: TargetConfig) -> TargetClient:
        (client,) = build_clients(
            self._config, {target.name: target}, sim_base_url=self._sim_url
        ).values()
        return client

    def embedder(self, name: str, model: str) -> EmbeddingClient | None:
        target = self._config.targets[name]
        base_url = target.base_url or (
            self._sim_url if target.provider == "sim" else DEFAULT_OPENAI_URL
        )
        if base_url is None:
            return None
        return EmbeddingClient(target, base_url, model)


@contextlib.contextmanager
def open_targets(
    config: Config, targets: Mapping[str, TargetConfig], cases: Sequence[Case]
) -> Iterator[OpenedTargets]:
    """Open what ``targets`` need for the run (an in-process simulator) and yield them."""
    from types import SimpleNamespace

    from pytest_llmguard.targets.sim import running_simulator

    book = [SimpleNamespace(cases=cases)]  # temporary: the provider registry replaces this
    with running_simulator(config, targets, book) as sim_url:  # type: ignore[arg-type]
        yield OpenedTargets(config, sim_url)
