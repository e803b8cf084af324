"""Extension hooks of pytest-llmguard (register them in a ``conftest.py`` or a plugin).

Example (``conftest.py``)::

    def pytest_llmguard_update_json(config, report):
        report["team"] = "search"                     # appears in report.json

    def pytest_llmguard_outcome(config, outcome):
        if outcome.verdict == "fail":
            notify_my_chat(outcome)                    # a custom publisher

    def pytest_llmguard_register_providers(register):
        register(MyProvider())                         # provider: mine, in llmguard.yaml

Only the process that judges the run (a single process, or the xdist controller) calls
the first two; workers never do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    from pytest_llmguard.outcome import Outcome

spec = pluggy.HookspecMarker("pytest")


@spec
def pytest_llmguard_update_json(config: pytest.Config, report: dict[str, Any]) -> None:
    """Amend the JSON report (a plain dict) before it is written and saved.

    Add keys freely; renaming or removing documented keys breaks readers of the report.
    """


@spec
def pytest_llmguard_outcome(config: pytest.Config, outcome: Outcome) -> None:
    """Called once with the run's final outcome (verdict, comparisons, every case).

    For custom publishers: chat messages, dashboards, tickets. An exception here is
    reported as a warning and does not change the gate's verdict.
    """


@spec
def pytest_llmguard_register_providers(register: Callable[[Any], None]) -> None:
    """Register target providers before the configuration is read.

    ``register(provider)`` adds a provider object (see ``targets.registry.Provider``),
    so ``provider: NAME`` works in ``llmguard.yaml`` without an installed entry point.
    """
