"""The drift and alerts sections: typed records, defaults, and one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmguard.budgets import Delta
from pytest_llmguard.config import load_config
from pytest_llmguard.config.records import DEFAULT_TRENDS, GitHubIssueSettings, TrendBudget
from pytest_llmguard.exceptions import ConfigError

TARGETS = "targets: {prod: {provider: sim, model: sim-stable}}\n"


def _load(tmp_path: Path, text: str) -> object:
    (tmp_path / "llmguard.yaml").write_text(TARGETS + text)
    return load_config(str(tmp_path))


def test_defaults_without_the_sections(tmp_path: Path) -> None:
    cfg = load_config(str(tmp_path))
    assert cfg.drift.reference_runs == 7 and cfg.drift.budgets is None
    assert cfg.drift.trends == DEFAULT_TRENDS and cfg.drift.control_k == 3.0
    assert cfg.drift_history == ".llmguard/history"  # the run store's folder
    assert cfg.alerts.webhook_url_env is None and cfg.alerts.github_issue is None


def test_every_key_is_read(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        """
drift:
  history: nightly/
  reference_runs: 5
  budgets: {latency_p95_ms: {max_increase: "20%"}}
  output: {alpha: 0.01, min_reference: 2, top: 3}
  trend:
    window: 10
    latency_p95_ms: {max_increase_per_week: "10%"}
    error_rate: {max_increase_per_week: 0.02}
  control: {k: 4, metrics: [latency_p95_ms]}
  production: {recent: 12h, reference: 3d, alpha: 0.01, psi: 0.2, wasserstein: 0.2,
               ks_max_rows: 500, bins: 5, min_rows: 10}
alerts:
  webhook_url_env: HOOK
  github_issue: {repo: acme/app, token_env: GH, api_url: "http://127.0.0.1:9/", labels: [drift]}
  state_dir: alerts/
  retries: 2
  backoff_s: 0.1
  timeout_s: 3
  worsen_factor: 2
""",
    )
    d = cfg.drift  # type: ignore[attr-defined]
    assert (d.history, d.reference_runs, d.output_alpha, d.output_min_reference) == (
        "nightly/",
        5,
        0.01,
        2,
    )
    assert cfg.drift_history == "nightly/"  # type: ignore[attr-defined]
    assert d.budgets[0].metric == "latency_p95_ms" and d.output_top == 3
    assert d.trend_window == 10
    assert d.trends == (
        TrendBudget("latency_p95_ms", Delta(0.1, relative=True)),
        TrendBudget("error_rate", Delta(0.02, relative=False)),
    )
    assert (d.control_k, d.control_metrics) == (4.0, ("latency_p95_ms",))
    p = d.production
    assert (p.recent_s, p.reference_s, p.alpha, p.psi, p.bins, p.min_rows) == (
        43200.0,
        3 * 86400.0,
        0.01,
        0.2,
        5,
        10,
    )
    a = cfg.alerts  # type: ignore[attr-defined]
    assert a.github_issue == GitHubIssueSettings("acme/app", "GH", "http://127.0.0.1:9", ("drift",))
    assert (a.webhook_url_env, a.state_dir, a.retries, a.backoff_s, a.worsen_factor) == (
        "HOOK",
        "alerts/",
        2,
        0.1,
        2.0,
    )


def test_github_issue_true_takes_the_defaults(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "alerts: {github_issue: true}\n")
    assert cfg.alerts.github_issue == GitHubIssueSettings()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "drift: {trend: {latency_p59_ms: {max_increase_per_week: 1}}}",
            "drift.trend.latency_p59_ms: unknown metric",
        ),
        ("drift: {control: {metrics: [eror_rate]}}", "did you mean 'error_rate'"),
        ("drift: {reference_runs: 0}", "drift.reference_runs"),
        ("drift: {refrence_runs: 3}", "did you mean 'reference_runs'"),
        ("drift: {production: {recent: 1w}}", "drift.production.recent"),
        (
            "drift: {budgets: {latency_p95_ms: {max_increase: fast}}}",
            "drift.budgets.latency_p95_ms",
        ),
        ("alerts: {webhook_url_env: 'https://hooks.example/x'}", "names an environment variable"),
        ("alerts: {github_issue: {repo: nope}}", "alerts.github_issue"),
    ],
)
def test_mistakes_are_one_clear_error(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text + "\n")
    assert fragment in str(info.value)
    assert "llmguard.yaml" in str(info.value)
