"""Configuration: discovery, JSON-Schema validation and the typed, frozen records.

``load_config`` is the one entry point: it finds the file (``--llmguard-config PATH``,
``llmguard.yaml`` in the rootdir, ``[tool.llmguard]`` in ``pyproject.toml``), validates it
against ``schemas/config.schema.json``, and builds a ``Config`` whose every section is a
typed record with its cross-references checked. Every problem is one ``ConfigError``
naming the file, the key path and (for YAML) the line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config.records import (
    CACHE_MODES,
    AlertsConfig,
    CacheConfig,
    CompareConfig,
    Config,
    DriftConfig,
    FeedbackConfig,
    GateConfig,
    HistoryConfig,
    JudgeSettings,
    LogsConfig,
    LogSourceConfig,
    Price,
    QualitySettings,
    RedactConfig,
    RedactPattern,
    ReportConfig,
    RetryPolicy,
    RunConfig,
    SampleConfig,
    TargetConfig,
)

if TYPE_CHECKING:
    from pytest_llmguard.config.discovery import config_line_of, find_config
    from pytest_llmguard.config.loading import load_config

__all__ = [
    "CACHE_MODES",
    "AlertsConfig",
    "CacheConfig",
    "CompareConfig",
    "Config",
    "DriftConfig",
    "FeedbackConfig",
    "GateConfig",
    "HistoryConfig",
    "JudgeSettings",
    "LogSourceConfig",
    "LogsConfig",
    "Price",
    "QualitySettings",
    "RedactConfig",
    "RedactPattern",
    "ReportConfig",
    "RetryPolicy",
    "RunConfig",
    "SampleConfig",
    "TargetConfig",
    "config_line_of",
    "find_config",
    "load_config",
]

# Loading (YAML, schemas, budgets, did-you-mean) is imported on first use: the records
# above are all the pytest plugin needs while --llmguard is off.
_LAZY = {
    "config_line_of": "pytest_llmguard.config.discovery",
    "find_config": "pytest_llmguard.config.discovery",
    "load_config": "pytest_llmguard.config.loading",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmguard.config' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
