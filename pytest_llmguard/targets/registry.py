"""Placeholder until the provider registry lands (see the foundations issue)."""

from __future__ import annotations

from typing import Any

_REGISTERED: dict[str, Any] = {}


def register(provider: Any) -> None:
    _REGISTERED[str(getattr(provider, "name", provider))] = provider
