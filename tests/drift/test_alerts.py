"""Alerts: a Slack-compatible webhook and GitHub issues on 127.0.0.1, new / worse /
resolved, never re-alerted while unchanged, and never lost: retried, spooled, delivered
on the next run, with the failure in the exit status."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmguard.config import Config
from pytest_llmguard.config.records import AlertsConfig, GitHubIssueSettings
from pytest_llmguard.drift.findings import DriftResult, Finding, MovedCase, TargetCheck
from pytest_llmguard.publish.alerts import send_alerts
from pytest_llmguard.publish.webhook import MAX_BLOCK_TEXT, MAX_BLOCKS, slack_message
from tests.fakes.github_issues import FakeGitHubIssues
from tests.fakes.webhook import WebhookReceiver

CHECKED = (TargetCheck("prod", "m", ("run 00001",)),)


def _finding(size: float = 0.2, subject: str = "latency_p95_ms") -> Finding:
    return Finding("metric", "prod", subject, "fail", f"prod: {subject} rose {size:.0%}", size=size)


def _night(*findings: Finding) -> DriftResult:
    return DriftResult(CHECKED, findings)


@pytest.fixture()
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        monkeypatch.setenv("TEST_HOOK", receiver.url)
        yield receiver


def _config(tmp_path: Path, **alerts: object) -> Config:
    settings = AlertsConfig(webhook_url_env="TEST_HOOK", retries=2, backoff_s=0.001)
    return Config(rootdir=str(tmp_path), alerts=replace(settings, **alerts))  # type: ignore[arg-type]


def test_new_then_quiet_then_worse_then_resolved(tmp_path: Path, hook: WebhookReceiver) -> None:
    config = _config(tmp_path)
    report = send_alerts(config, _night(_finding(0.2)), now=1.0)
    assert not report.failed and len(hook.messages) == 1
    assert "New drift" in hook.messages[0]["text"]
    report = send_alerts(config, _night(_finding(0.25)), now=2.0)  # not 1.5x worse
    assert len(hook.messages) == 1
    assert any("not alerted again" in line for line in report.lines)
    send_alerts(config, _night(_finding(0.31)), now=3.0)  # 0.31 >= 0.2 * 1.5
    assert len(hook.messages) == 2 and "Drift worsened" in hook.messages[1]["text"]
    send_alerts(config, _night(), now=4.0)
    assert len(hook.messages) == 3 and "Drift resolved" in hook.messages[2]["text"]
    send_alerts(config, _night(), now=5.0)
    assert len(hook.messages) == 3  # nothing to say


def test_a_target_not_checked_tonight_resolves_nothing(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    config = _config(tmp_path)
    send_alerts(config, _night(_finding()), now=1.0)
    send_alerts(config, DriftResult((TargetCheck("other", "m", ("run 1",)),), ()), now=2.0)
    assert len(hook.messages) == 1


def test_failures_are_retried_then_spooled_and_delivered_next_run(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    config = _config(tmp_path)
    hook.fail_next(2, status=503)  # retried: the third attempt gets through
    assert not send_alerts(config, _night(_finding(0.2)), now=1.0).failed
    assert len(hook.messages) == 1 and hook.attempts == 3
    hook.fail_next(3, status=0)  # dropped connections, every attempt
    report = send_alerts(config, _night(_finding(0.2), _finding(0.3, "error_rate")), now=2.0)
    assert report.failed and len(hook.messages) == 1
    assert any("NOT delivered" in line and "spooled" in line for line in report.lines)
    spooled = list((tmp_path / ".llmguard/history/alerts/spool").glob("*-webhook.json"))
    assert len(spooled) == 1
    # the next run: the spooled message first, then tonight's
    report = send_alerts(config, _night(), now=3.0)
    assert not report.failed
    assert [m["text"].count("New drift") for m in hook.messages[1:]] == [1, 0]
    assert "Drift resolved" in hook.messages[2]["text"]
    assert not list((tmp_path / ".llmguard/history/alerts/spool").glob("*.json"))


def test_a_missing_webhook_variable_is_a_failure_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_HOOK", raising=False)
    report = send_alerts(_config(tmp_path), _night(_finding()), now=1.0)
    assert report.failed
    assert any("$TEST_HOOK is not set" in line for line in report.lines)


def test_a_client_error_is_not_retried_but_still_spooled(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    hook.fail_next(1, status=404)
    report = send_alerts(_config(tmp_path), _night(_finding()), now=1.0)
    assert report.failed and hook.attempts == 1


def test_messages_stay_within_slack_limits_and_escape_model_text(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    moved = MovedCase("set::c1", 0.5, 0.6, 0.1, "before", "<!channel> & <http://x|y>", "diff <b>")
    silent = Finding("silent_change", "prod", "outputs", "fail", "x" * 5000, cases=(moved,) * 3)
    many = [_finding(0.2, f"m{i}") for i in range(80)]
    send_alerts(_config(tmp_path), _night(silent, *many), now=1.0)
    (message,) = hook.messages
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_BLOCK_TEXT for b in message["blocks"])
    assert len(message["text"]) <= 3000
    text = json.dumps(message)
    assert "<!channel>" not in text and "&lt;b&gt;" in text
    assert slack_message("t", [])["blocks"][0]["text"]["text"] == "t"


def test_github_issue_opened_commented_closed(
    tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGitHubIssues() as github:
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        settings = GitHubIssueSettings(repo="acme/app", api_url=github.url)
        config = _config(tmp_path, github_issue=settings)
        send_alerts(config, _night(_finding(0.2)), now=1.0)
        (issue,) = github.open_issues()
        assert issue["title"] == "llmguard drift: metric:prod:latency_p95_ms"
        assert issue["labels"] == ["llmguard-drift"]
        assert "<!-- llmguard-drift:metric:prod:latency_p95_ms -->" in issue["body"]
        send_alerts(config, _night(_finding(0.2)), now=2.0)  # unchanged: nothing
        assert issue["comments"] == []
        send_alerts(config, _night(_finding(0.5)), now=3.0)  # worse: a comment
        assert len(issue["comments"]) == 1 and "Worse" in issue["comments"][0]
        send_alerts(config, _night(_finding(0.5), _finding(0.1, "error_rate")), now=4.0)
        assert len(github.open_issues()) == 2  # one issue per kind of drift
        send_alerts(config, _night(_finding(0.5)), now=5.0)
        closed = [i for i in github.issues.values() if i["state"] == "closed"]
        assert len(closed) == 1 and "Resolved" in closed[0]["comments"][-1]


def test_github_failures_are_spooled_and_replayed(
    tmp_path: Path, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeGitHubIssues() as github:
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        settings = GitHubIssueSettings(repo="acme/app", api_url=github.url)
        config = _config(tmp_path, github_issue=settings, retries=1)
        github.fail_next(2, status=502)
        report = send_alerts(config, _night(_finding()), now=1.0)
        assert report.failed and not github.issues
        assert any("GitHub issues: 1 update(s) NOT made" in line for line in report.lines)
        assert len(hook.messages) == 1  # the webhook does not wait for GitHub
        report = send_alerts(config, _night(_finding()), now=2.0)
        assert not report.failed and len(github.open_issues()) == 1
        monkeypatch.setenv("GITHUB_TOKEN", "wrong")
        report = send_alerts(config, _night(), now=3.0)
        assert report.failed and len(github.open_issues()) == 1  # 401: kept for later
        monkeypatch.setenv("GITHUB_TOKEN", github.token)
        assert not send_alerts(config, _night(), now=4.0).failed
        assert not github.open_issues()


def test_damaged_state_starts_afresh_and_says_so(tmp_path: Path, hook: WebhookReceiver) -> None:
    state = tmp_path / ".llmguard/history/alerts/state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    report = send_alerts(_config(tmp_path), _night(_finding()), now=1.0)
    assert any("unreadable" in line for line in report.lines) and len(hook.messages) == 1
    assert json.loads(state.read_text())["open"]
