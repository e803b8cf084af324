"""API keys (and ``${NAME}`` references) come from the environment only; a missing one
fails that target's calls, clearly.

The run goes on for the other targets, and the terminal says which variable to export.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion

# ``${NAME}`` (or ``${NAME:-default}``) in a header or keyword-argument value: an
# environment variable.
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: str) -> tuple[str, list[str]]:
    """``value`` with each ``${NAME}`` replaced by that environment variable's value (or
    its ``:-default``), and the names of the referenced variables that are unset and
    have no default (replaced by nothing)."""
    unset: list[str] = []

    def replace_one(match: re.Match[str]) -> str:
        found = os.environ.get(match.group(1), match.group(2))
        if found is None:
            unset.append(match.group(1))
            return ""
        return found

    return ENV_REFERENCE.sub(replace_one, value), unset


def missing_key_message(target: TargetConfig) -> str | None:
    """Why ``target`` cannot authenticate, or None when it can (or needs no key)."""
    if not target.api_key_env:
        return None
    key = api_key_of(target)
    if not key:
        return (
            f"environment variable {target.api_key_env} is not set "
            f"(targets.{target.name}.api_key_env); export it, or remove api_key_env "
            "for an endpoint that needs no key"
        )
    if not key.isprintable():
        # an HTTP header cannot carry it; every call would fail as a "connection" error
        return (
            f"environment variable {target.api_key_env} (targets.{target.name}.api_key_env) "
            "holds a line break or control character inside the key; set it to the key alone"
        )
    return None


def key_warning(target: TargetConfig) -> str | None:
    """Said at start-up: the key had whitespace around it (a trailing newline, typically
    from ``$(cat key.txt)`` or a secrets file), which was stripped."""
    raw = os.environ.get(target.api_key_env) if target.api_key_env else None
    if raw and raw != raw.strip() and raw.strip():
        return (
            f"llmguard: environment variable {target.api_key_env} ends (or starts) with "
            "whitespace, such as a trailing newline; it was stripped from the key"
        )
    return None


def key_warnings(targets: Iterable[TargetConfig]) -> list[str]:
    """What to say at start-up about the targets' keys (a trailing newline, stripped)."""
    found = (key_warning(t) for t in targets)
    return list(dict.fromkeys(w for w in found if w is not None))


def api_key_of(target: TargetConfig) -> str | None:
    """The target's API key from its ``api_key_env`` variable, if it names one (without
    whitespace around it: a trailing newline is never part of a key)."""
    raw = os.environ.get(target.api_key_env) if target.api_key_env else None
    return raw.strip() if raw is not None else None


class MissingCredentials:
    """Stands in for a target whose API key variable is unset: every call fails clearly."""

    def __init__(self, config: TargetConfig, message: str) -> None:
        self._config = config
        self.message = message

    @property
    def unavailable(self) -> str:
        """Why no call is made (the engine records it without an attempt)."""
        return self.message

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
