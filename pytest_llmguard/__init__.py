"""pytest-llmguard: a pytest plugin and CI regression gate for LLM applications.

The names in ``__all__`` are the public API; everything else may change. They are
imported lazily, so that loading the pytest plugin (which imports this package) stays
cheap when ``--llmguard`` is off.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "Case": "pytest_llmguard.records",
    "Message": "pytest_llmguard.records",
    "Observation": "pytest_llmguard.records",
    "ScoredObservation": "pytest_llmguard.records",
    "CheckResult": "pytest_llmguard.records",
    "ErrorRecord": "pytest_llmguard.records",
    "Provenance": "pytest_llmguard.records",
    "LogRecord": "pytest_llmguard.sources.record",
    "load_log_cases": "pytest_llmguard.sources.loading",
    "read_records": "pytest_llmguard.sources.loading",
    "Config": "pytest_llmguard.config",
    "load_config": "pytest_llmguard.config",
    "load_golden_sets": "pytest_llmguard.golden",
    "GuardSession": "pytest_llmguard.session",
    "Options": "pytest_llmguard.config.overrides",
    "Outcome": "pytest_llmguard.outcome",
    "Judgement": "pytest_llmguard.outcome",
    "assess": "pytest_llmguard.verdict",
    "open_store": "pytest_llmguard.store",
    "Engine": "pytest_llmguard.runner",
    "CallUnit": "pytest_llmguard.runner",
    "RunSummary": "pytest_llmguard.summary",
    "summarize": "pytest_llmguard.summary",
    "Comparison": "pytest_llmguard.outcome",
    "compare": "pytest_llmguard.gate",
    "SimServer": "pytest_llmguard.sim.server",
    "LLMGuardError": "pytest_llmguard.exceptions",
    "UsageError": "pytest_llmguard.exceptions",
    "ConfigError": "pytest_llmguard.exceptions",
    "GoldenSetError": "pytest_llmguard.exceptions",
    "LogSourceError": "pytest_llmguard.exceptions",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmguard' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
