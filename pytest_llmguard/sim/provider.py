"""``provider: sim``: the built-in simulator as a provider.

A sim target without a base_url gets the simulator started in-process on a free
loopback port, once for the whole run; one with a base_url talks to a simulator started
elsewhere (``llmguard sim``). Either way its clients are OpenAI clients.

The simulator is given an answer book built from the run's cases (last user message →
``expected``), so its accurate versions answer the references and its degraded
versions (slower, wordier, drifted, regressed) differ from them in controlled ways.

The in-process simulator's port changes every run, so its responses are cached by what
determines them instead of by URL: the model version and its knobs, the simulator's
settings (seed, noise, latency scale), the request body, the ``x-sim-*`` headers and
the reference the simulator answers with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.config import RunConfig, TargetConfig
from pytest_llmguard.records import Case
from pytest_llmguard.sim.models import BUILTIN_MODELS, SimModel, load_models
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.targets.base import TargetClient
from pytest_llmguard.targets.endpoints import HttpEndpoints
from pytest_llmguard.targets.openai import OpenAIClient
from pytest_llmguard.targets.registry import Problem, ProviderContext

_OPTIONS = ("seed", "noise_sigma", "latency_scale", "run_seed")


def answer_book(cases: Iterable[Case]) -> dict[str, str]:
    """Last user message → reference answer, for every case that has one (first wins)."""
    book: dict[str, str] = {}
    for case in cases:
        users = [m.content for m in case.messages if m.role == "user"]
        if users and case.expected is not None:
            book.setdefault(users[-1], case.expected)
    return book


def simulator_options(sim: Mapping[str, Any]) -> dict[str, Any]:
    """Server options from the config's ``sim`` section (models are loaded separately)."""
    return {key: sim[key] for key in _OPTIONS if key in sim}


@contextmanager
def running_simulator(sim: Mapping[str, Any], answers: Mapping[str, str]) -> Iterator[str]:
    """Run the simulator of a config ``sim`` section in-process (a thread); yield its URL."""
    from pytest_llmguard.sim.server import SimServer

    server = SimServer(
        models=load_models(sim),  # reads the section's "models" key itself
        answers=answers,
        **simulator_options(sim),
    )
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop_thread()


class SimClient(OpenAIClient):
    """An OpenAI client for the in-process simulator, cached by model rather than by port."""

    def __init__(
        self,
        config: TargetConfig,
        *,
        identity: Mapping[str, Any],
        answers: Mapping[str, str],
        **options: Any,
    ) -> None:
        super().__init__(config, **options)
        self._identity = identity
        self._answers = answers

    def request_identity(self, case: Case) -> dict[str, Any]:
        last_user = next((m.content for m in reversed(case.messages) if m.role == "user"), None)
        return {
            **self._identity,
            "body": self.request_body(case),
            "answer": None if last_user is None else self._answers.get(last_user),
        }


def sim_identity(target: TargetConfig, sim: Mapping[str, Any]) -> dict[str, Any]:
    """What, besides the request, decides an in-process simulator's answer (never the port)."""
    model: SimModel | None = {**BUILTIN_MODELS, **load_models(sim)}.get(target.model)
    return {
        "provider": "sim",
        "model": target.model,
        "version": None if model is None else dataclasses.asdict(model),
        "simulator": simulator_options(sim),
        "headers": {k: v for k, v in target.headers.items() if k.lower().startswith("x-sim-")},
    }


@dataclass(frozen=True, slots=True)
class SimProvider:
    """``provider: sim``; see the module docstring."""

    name: str = "sim"
    config_keys: tuple[str, ...] = ()
    default_key_env: str | None = None
    default_base_url: str | None = None

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        """An in-process target's model must be a built-in or a ``sim.models`` version.

        (A simulator elsewhere, at a base_url, may have been given other versions.)
        ``sim.models`` itself is checked here too: ConfigError with its key path.
        """
        configured = load_models(sections.get("sim") or {})
        if target.base_url or target.model in BUILTIN_MODELS or target.model in configured:
            return None
        known = [*BUILTIN_MODELS, *configured]
        return Problem(
            f"unknown simulator model {target.model!r}" + did_you_mean_hint(target.model, known),
            key="model",
            hint="versions: " + ", ".join(known) + " (more can be defined under sim.models)",
        )

    @contextmanager
    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> Iterator[HttpEndpoints]:
        sim = context.sections.get("sim") or {}
        if all(t.base_url for t in targets.values()):
            yield HttpEndpoints(_base_urls(targets, ""), context.run, OpenAIClient.for_target)
            return
        book = answer_book(context.cases)

        def make(target: TargetConfig, base_url: str, run: RunConfig) -> TargetClient:
            if target.base_url:
                return OpenAIClient.for_target(target, base_url, run)
            identity = sim_identity(target, sim)
            return SimClient.for_target(target, base_url, run, identity=identity, answers=book)

        with running_simulator(sim, book) as url:
            yield HttpEndpoints(_base_urls(targets, url), context.run, make)


def _base_urls(targets: Mapping[str, TargetConfig], simulator_url: str) -> dict[str, str]:
    return {name: t.base_url or simulator_url for name, t in targets.items()}


PROVIDER = SimProvider()

__all__ = [
    "PROVIDER",
    "SimClient",
    "SimProvider",
    "answer_book",
    "running_simulator",
    "sim_identity",
]
