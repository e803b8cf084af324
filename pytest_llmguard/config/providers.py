"""Targets' providers checked by name before the schema sees the document.

The shipped schema lists the built-in providers' keys; a plugin provider's own keys are
checked by that provider (``Provider.check``), so they are left out of what the schema
validates. An unknown provider is one error listing the available ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmguard.config.discovery import DOCS
from pytest_llmguard.documents import Document, load_schema
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.targets.registry import PLANNED, Provider, get_provider, provider_names

CONFIG_SCHEMA = "config.schema.json"


def schema_view(doc: Document) -> Document:
    """Check each target's provider by name; return ``doc`` as the shipped schema sees it.

    The schema lists the built-in providers' keys; a plugin provider's own keys are
    checked by that provider (``Provider.check``), so they are left out of the view.
    """
    data = doc.data
    targets = data.get("targets") if isinstance(data, Mapping) else None
    if not isinstance(targets, Mapping):
        return doc  # the schema says what is wrong
    known = load_schema(CONFIG_SCHEMA)["$defs"]["target"]["properties"]
    view: dict[Any, Any] = {}
    for name, raw in targets.items():
        view[name] = raw
        if isinstance(raw, Mapping) and isinstance(raw.get("provider"), str):
            provider = provider_of(doc, str(name), raw["provider"])
            own = set(provider.config_keys).difference(known)
            if own.intersection(raw):
                view[name] = {k: v for k, v in raw.items() if k not in own}
    if all(view[name] is raw for name, raw in targets.items()):
        return doc
    return Document(doc.path, {**data, "targets": view}, doc.lines)


def provider_of(doc: Document, target: str, name: str) -> Provider:
    """The provider called ``name``, or the ConfigError that lists the available ones."""
    try:
        return get_provider(name)
    except KeyError:
        pass
    available = provider_names()
    where = ("targets", target, "provider")
    expected = "expected one of: " + ", ".join(available)
    if name in PLANNED:
        raise doc.error(
            ConfigError,
            f"{name!r} is not available yet; {expected}",
            where,
            hint=f"{', '.join(PLANNED)} are planned; until then provider: openai covers any "
            "OpenAI-compatible endpoint, and a provider plugin can add others",
            docs=DOCS,
        )
    raise doc.error(
        ConfigError,
        f"{name!r} is not allowed; {expected}" + did_you_mean_hint(name, available),
        where,
        docs=DOCS,
    )
