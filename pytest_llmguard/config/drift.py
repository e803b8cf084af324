"""Parse the ``drift`` and ``alerts`` sections into ``DriftConfig`` and ``AlertsConfig``.

The schema has checked shapes and ranges; what it cannot check is here, each mistake one
ConfigError with its key path: metric names (with a "did you mean"), durations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_llmguard.budgets import Delta
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.config.records import (
    AlertsConfig,
    DriftConfig,
    GitHubIssueSettings,
    ProductionSettings,
    TrendBudget,
)
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.summary import METRICS

DOCS = "the-nightly-drift-check"


def _metric(name: str, key_path: str) -> str:
    if name not in METRICS:
        raise ConfigError(
            f"unknown metric {name!r}" + did_you_mean_hint(name, METRICS),
            key_path=key_path,
            hint="metrics: " + ", ".join(METRICS),
            docs=DOCS,
        )
    return name


def _seconds(text: str) -> float:
    """``"12h"`` or ``"7d"`` (the schema checked the form) in seconds."""
    return float(text[:-1]) * (3600.0 if text.endswith("h") else 86400.0)


def parse_drift(raw: Mapping[str, Any]) -> DriftConfig:
    """The ``drift`` section (already valid against the schema) as a record."""
    default = DriftConfig()
    output = raw.get("output") or {}
    trend = dict(raw.get("trend") or {})
    window = int(trend.pop("window", default.trend_window))
    trends = tuple(
        TrendBudget(
            _metric(str(name), f"drift.trend.{name}"),
            Delta.from_json(spec["max_increase_per_week"]),
        )
        for name, spec in trend.items()
    )
    control = raw.get("control") or {}
    metrics = tuple(
        _metric(str(m), f"drift.control.metrics[{i}]")
        for i, m in enumerate(control.get("metrics", default.control_metrics))
    )
    budgets = raw.get("budgets")
    return DriftConfig(
        history=raw.get("history"),
        reference_runs=int(raw.get("reference_runs", default.reference_runs)),
        budgets=None if budgets is None else _drift_budgets(budgets),
        output_alpha=float(output.get("alpha", default.output_alpha)),
        output_min_reference=int(output.get("min_reference", default.output_min_reference)),
        output_top=int(output.get("top", default.output_top)),
        trend_window=window,
        trends=trends or default.trends,
        control_k=float(control.get("k", default.control_k)),
        control_metrics=metrics,
        production=_production(raw.get("production") or {}),
    )


def _drift_budgets(raw: Mapping[str, Any]) -> tuple[Any, ...]:
    try:
        return parse_budgets(raw)
    except ConfigError as exc:
        raise ConfigError(
            exc.message,
            key_path="drift." + exc.key_path if exc.key_path else "drift.budgets",
            hint=exc.hint,
            docs=exc.docs,
        ) from None


def _production(raw: Mapping[str, Any]) -> ProductionSettings:
    default = ProductionSettings()
    return ProductionSettings(
        recent_s=_seconds(raw["recent"]) if "recent" in raw else default.recent_s,
        reference_s=_seconds(raw["reference"]) if "reference" in raw else default.reference_s,
        alpha=float(raw.get("alpha", default.alpha)),
        psi=float(raw.get("psi", default.psi)),
        wasserstein=float(raw.get("wasserstein", default.wasserstein)),
        ks_max_rows=int(raw.get("ks_max_rows", default.ks_max_rows)),
        bins=int(raw.get("bins", default.bins)),
        min_rows=int(raw.get("min_rows", default.min_rows)),
    )


def parse_alerts(raw: Mapping[str, Any]) -> AlertsConfig:
    """The ``alerts`` section (already valid against the schema) as a record."""
    default = AlertsConfig()
    issue = raw.get("github_issue", False)
    github: GitHubIssueSettings | None = None
    if issue is True:
        github = GitHubIssueSettings()
    elif isinstance(issue, Mapping):
        base = GitHubIssueSettings()
        github = GitHubIssueSettings(
            repo=issue.get("repo"),
            token_env=str(issue.get("token_env", base.token_env)),
            api_url=str(issue.get("api_url", base.api_url)).rstrip("/"),
            labels=tuple(issue.get("labels", base.labels)),
        )
    return AlertsConfig(
        webhook_url_env=raw.get("webhook_url_env"),
        github_issue=github,
        state_dir=raw.get("state_dir"),
        retries=int(raw.get("retries", default.retries)),
        backoff_s=float(raw.get("backoff_s", default.backoff_s)),
        timeout_s=float(raw.get("timeout_s", default.timeout_s)),
        worsen_factor=float(raw.get("worsen_factor", default.worsen_factor)),
    )
