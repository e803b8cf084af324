"""Which providers exist: ``{name: provider}``, open to third parties.

A provider is one module with one object (see :class:`Provider`): the keys a target may
carry for it, its defaults, a config-time check, and ``open``, which starts whatever its
targets need for the whole run and serves their clients. Built-ins are import strings,
resolved on first use, so importing the registry loads no HTTP client and the product
never imports the simulator; third-party providers come from the entry-point group
``pytest_llmguard.providers`` (``name = "package.module:PROVIDER"``) or from
:func:`register` at run time (a conftest, a test)::

    [project.entry-points."pytest_llmguard.providers"]
    bedrock = "llmguard_bedrock:PROVIDER"

A run opens its targets with :func:`open_targets`: one ``open`` per provider, all closed
together when the run ends.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_llmguard.exceptions import UsageError

if TYPE_CHECKING:
    from pytest_llmguard.config import Config, RunConfig, TargetConfig
    from pytest_llmguard.records import Case
    from pytest_llmguard.targets.base import TargetClient
    from pytest_llmguard.targets.embeddings import EmbeddingClient

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLANNED",
    "PROVIDER_SECTIONS",
    "Endpoints",
    "OpenedTargets",
    "Problem",
    "Provider",
    "ProviderContext",
    "get_provider",
    "key_owner",
    "open_targets",
    "provider_names",
    "register",
    "unregister",
]

ENTRY_POINT_GROUP = "pytest_llmguard.providers"
_BUILTIN = {
    "openai": "pytest_llmguard.targets.openai:PROVIDER",
    "anthropic": "pytest_llmguard.targets.anthropic:PROVIDER",
    "http": "pytest_llmguard.targets.http:PROVIDER",
    "python": "pytest_llmguard.targets.python:PROVIDER",
    "sim": "pytest_llmguard.sim.provider:PROVIDER",
}
# Providers named in DESIGN.md but not implemented yet: the config says so instead of
# "unknown", and their keys stay reserved in the config schema until the module exists.
PLANNED: Mapping[str, tuple[str, ...]] = {}
# Top-level config sections that belong to a provider (``ProviderContext.sections``).
PROVIDER_SECTIONS = ("sim",)


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with a target, found by its provider at config time.

    ``key`` is the target key it is about (``model``, ``function``), None for the target
    as a whole; config.py adds the file, line and key path.
    """

    message: str
    key: str | None = None
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What ``Provider.open`` may use besides its targets."""

    run: RunConfig
    cases: Sequence[Case]  # the run's cases (the simulator answers them from their references)
    sections: Mapping[str, Any]  # top-level config sections of providers, e.g. "sim"
    rootdir: str


class Endpoints(Protocol):
    """What an opened provider serves for its targets."""

    def client(self, target: TargetConfig) -> TargetClient:
        """A fresh client for ``target`` (one it was opened with, possibly another model)."""
        ...

    def embedder(self, target: TargetConfig, model: str) -> EmbeddingClient | None:
        """An OpenAI-compatible ``/embeddings`` client for ``target``, or None."""
        ...


class Provider(Protocol):
    """One provider: a frozen dataclass instance is the usual implementation."""

    @property
    def name(self) -> str: ...

    @property
    def config_keys(self) -> tuple[str, ...]:
        """Target keys only this provider takes (kept in ``TargetConfig.extra``)."""
        ...

    @property
    def default_key_env(self) -> str | None:
        """The API key variable of a target that sets neither it nor a base_url."""
        ...

    @property
    def default_base_url(self) -> str | None: ...

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        """A config-time problem with ``target`` (``sections`` as in ProviderContext)."""
        ...

    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> AbstractContextManager[Endpoints]:
        """Start what ``targets`` need for the whole run; stop it on exit."""
        ...


_registered: dict[str, Provider] = {}
_loaded: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    """Make ``provider`` available under its name (replacing any provider of that name)."""
    _check_shape(provider, f"register({provider!r})")
    _registered[provider.name] = provider


def unregister(name: str) -> None:
    """Undo :func:`register` (a no-op for a name that was not registered)."""
    _registered.pop(name, None)


def provider_names() -> tuple[str, ...]:
    """Every available provider: built-in, registered, then installed entry points."""
    names = dict.fromkeys([*_BUILTIN, *_registered])
    names.update(dict.fromkeys(ep.name for ep in _entry_points()))
    return tuple(names)


def get_provider(name: str) -> Provider:
    """The provider called ``name``; KeyError if there is none.

    A third-party entry point that fails to load is one UsageError naming it.
    """
    provider = _registered.get(name) or _loaded.get(name)
    if provider is not None:
        return provider
    if name in _BUILTIN:
        module, _, attr = _BUILTIN[name].partition(":")
        provider = getattr(importlib.import_module(module), attr)
    else:
        found = [ep for ep in _entry_points() if ep.name == name]
        if not found:
            raise KeyError(name)
        provider = _load_entry_point(found[0])
    _loaded[name] = provider
    return provider


def key_owner(key: str) -> str | None:
    """The built-in, registered or planned provider whose own target key ``key`` is."""
    for name in (*_BUILTIN, *_registered):
        if key in get_provider(name).config_keys:
            return name
    return next((name for name, keys in PLANNED.items() if key in keys), None)


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    # The package declares its built-ins in the group too (for discoverability); those
    # always resolve from _BUILTIN, whatever metadata is installed.
    return [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in _BUILTIN]


def _load_entry_point(ep: Any) -> Provider:
    dist = getattr(getattr(ep, "dist", None), "name", None)
    where = f"provider plugin {ep.name!r} ({ENTRY_POINT_GROUP}: {ep.value!r}" + (
        f", from the package {dist!r})" if dist else ")"
    )
    try:
        obj = ep.load()
        provider = obj() if isinstance(obj, type) else obj
    except Exception as exc:  # whatever a broken plugin raises, say which one it is
        raise UsageError(
            f"{where} could not be loaded: {type(exc).__name__}: {exc}",
            hint="fix or uninstall that package, or use another provider",
        ) from None
    _check_shape(provider, where)
    if provider.name != ep.name:
        raise UsageError(f"{where} is named {provider.name!r}; the names must match")
    return provider  # type: ignore[no-any-return]


_MEMBERS = ("name", "config_keys", "default_key_env", "default_base_url", "check", "open")


def _check_shape(provider: Any, where: str) -> None:
    missing = [m for m in _MEMBERS if not hasattr(provider, m)]
    if missing:
        raise UsageError(
            f"{where} is not a provider: it has no {', '.join(missing)}",
            hint="see pytest_llmguard.targets.registry.Provider",
        )


# --------------------------------------------------------------------------- a run's targets


class OpenedTargets:
    """The targets of a run, each served by its opened provider.

    A target whose API key variable is unset gets a stand-in client whose calls fail
    with a clear message: the run goes on for the other targets.
    """

    def __init__(self, targets: Mapping[str, TargetConfig], served: Mapping[str, Endpoints]):
        self._targets = dict(targets)
        self._served = dict(served)

    def clients(self, names: Iterable[str]) -> dict[str, TargetClient]:
        """Fresh clients for the named targets (the engine closes them after its run)."""
        return {name: self.client(self._targets[name]) for name in names}

    def client(self, target: TargetConfig) -> TargetClient:
        """A fresh client for ``target``: an opened target, possibly with another model."""
        from pytest_llmguard.targets.credentials import MissingCredentials, missing_key_message

        problem = missing_key_message(target)
        if problem:
            return MissingCredentials(target, problem)
        return self._served[target.name].client(target)

    def embedder(self, name: str, model: str) -> EmbeddingClient | None:
        """An ``/embeddings`` client at the named target's endpoint, or None."""
        return self._served[name].embedder(self._targets[name], model)


@contextmanager
def open_targets(
    config: Config, targets: Mapping[str, TargetConfig], cases: Iterable[Case]
) -> Iterator[OpenedTargets]:
    """Open every provider that ``targets`` use, once each, for the whole run."""
    context = ProviderContext(
        run=config.run,
        cases=tuple(cases),
        sections=provider_sections(config),
        rootdir=config.rootdir,
    )
    groups: dict[str, dict[str, TargetConfig]] = {}
    for name, target in targets.items():
        groups.setdefault(target.provider, {})[name] = target
    served: dict[str, Endpoints] = {}
    with ExitStack() as stack:
        for provider_name, group in groups.items():
            endpoints = stack.enter_context(get_provider(provider_name).open(group, context))
            served.update(dict.fromkeys(group, endpoints))
        yield OpenedTargets(targets, served)


def provider_sections(config: Config) -> dict[str, Any]:
    """The config's sections that belong to a provider (see ``PROVIDER_SECTIONS``)."""
    return {name: getattr(config, name) for name in PROVIDER_SECTIONS}
