"""Drift alerts that are neither lost nor noisy.

State (``<alerts.state_dir>/state.json``, default ``<drift history>/alerts``) remembers
each open kind of drift (``Finding.key``) and the size it was last alerted at. Each
night:

- a new kind of drift is alerted; one still there is alerted again only when its size
  has grown ``alerts.worsen_factor`` times (default 1.5) since it was last alerted;
- a kind that is gone (its target was checked tonight and it was not found) is alerted
  as resolved, and its GitHub issue is closed with a comment;
- everything of the night goes out as one webhook message (Slack-compatible), and as
  one GitHub issue operation per kind.

Delivery is retried with exponential backoff (``alerts.retries``, ``alerts.backoff_s``);
what still fails is spooled (``<state_dir>/spool``) and delivered first on the next run,
in order; the run says so and its exit status is 1. A webhook variable that is not set
is a failure too (spooled), never a silent skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmguard.atomic import make_dirs, write_atomic
from pytest_llmguard.config.records import Config
from pytest_llmguard.drift.findings import DriftResult, Finding
from pytest_llmguard.drift.render import finding_markdown
from pytest_llmguard.publish.github_issues import GitHubIssues
from pytest_llmguard.publish.spool import Spool
from pytest_llmguard.publish.webhook import mrkdwn_escape, send, slack_message

STATE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class AlertReport:
    """What alerting did tonight, in lines for the output, and whether anything failed."""

    lines: tuple[str, ...]
    failed: bool


@dataclass(frozen=True, slots=True)
class Change:
    """One kind of drift to tell about: new, worse or resolved."""

    status: str  # "new", "worse", "resolved"
    key: str
    title: str
    finding: Finding | None = None


def state_dir(config: Config) -> Path:
    folder = config.alerts.state_dir or os.path.join(config.drift_history, "alerts")
    return Path(config.rootdir) / folder


def _load_state(path: Path) -> tuple[dict[str, Any], str | None]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("open"), dict):
            return data, None
        problem = "not an alert state file"
    except FileNotFoundError:
        return {"format": STATE_FORMAT, "open": {}}, None
    except (OSError, ValueError) as exc:
        problem = str(exc)
    # A damaged state must not stop alerts: start afresh (some drift may be re-alerted).
    return {"format": STATE_FORMAT, "open": {}}, f"alert state {path} unreadable ({problem})"


def changes(
    result: DriftResult, state: dict[str, Any], worsen_factor: float, now: float
) -> list[Change]:
    """Decide what to tell, updating ``state`` (see the module docstring)."""
    opened: dict[str, Any] = state["open"]
    found = {f.key: f for f in result.findings if f.verdict == "fail"}
    out: list[Change] = []
    for key, finding in found.items():
        entry = opened.get(key)
        if entry is None:
            opened[key] = {"title": finding.title, "size": finding.size, "since": now}
            opened[key]["alerted_size"] = finding.size
            out.append(Change("new", key, finding.title, finding))
            continue
        entry.update(title=finding.title, size=finding.size)
        alerted = float(entry.get("alerted_size") or 0.0)
        if finding.size > 0 and finding.size >= alerted * worsen_factor and alerted >= 0:
            entry["alerted_size"] = finding.size
            out.append(Change("worse", key, finding.title, finding))
    checked = {c.target for c in result.checks if c.reference}
    if result.production is not None:
        checked.add("production")
    for key in list(opened):
        target = key.split(":")[1] if key.count(":") >= 2 else ""
        if key not in found and target in checked:
            title = str(opened.pop(key).get("title", key))
            out.append(Change("resolved", key, title))
    return out


def _webhook_body(night: str, told: Sequence[Change]) -> dict[str, Any]:
    heads = {"new": "New drift", "worse": "Drift worsened", "resolved": "Drift resolved"}
    sections = []
    for change in told:
        text = f"*{heads[change.status]}* `{mrkdwn_escape(change.key)}`\n"
        text += mrkdwn_escape(change.title[:1500])
        for moved in change.finding.cases[:3] if change.finding else ():
            text += f"\n• `{mrkdwn_escape(moved.case_key)}`: {mrkdwn_escape(moved.diff[:300])}"
        sections.append(text)
    new = sum(c.status != "resolved" for c in told)
    title = f"*llmguard drift* ({mrkdwn_escape(night)}): {new} new or worse, "
    title += f"{len(told) - new} resolved"
    return slack_message(title, sections)


def _issue_op(change: Change) -> dict[str, Any]:
    if change.status == "resolved":
        body = f"Resolved: not found in the nightly check any more.\n\nWas: {change.title}"
        return {"op": "close", "key": change.key, "body": body}
    assert change.finding is not None
    lines = finding_markdown(change.finding)
    if change.status == "worse":
        lines.insert(0, "**Worse than when last alerted.**\n")
    return {
        "op": "open" if change.status == "new" else "comment",
        "key": change.key,
        "title": f"llmguard drift: {change.key}",
        "body": "\n".join(lines),
    }


def send_alerts(config: Config, result: DriftResult, *, now: float) -> AlertReport:
    """Decide, deliver (spooled first), spool what fails, and save the state."""
    alerts = config.alerts
    folder = state_dir(config)
    path = folder / "state.json"
    state, problem = _load_state(path)
    lines = [problem] if problem else []
    told = changes(result, state, alerts.worsen_factor, now)
    spool = Spool(folder / "spool")
    failed = False
    kept = [
        c.key for c in result.findings if c.verdict == "fail" and c.key not in {t.key for t in told}
    ]
    if kept:
        lines.append(f"still drifting, not alerted again (not worse): {', '.join(kept)}")
    if alerts.webhook_url_env:
        failed |= _webhook(config, spool, told, lines, result.saved or "tonight")
    if alerts.github_issue is not None:
        failed |= _github(config, spool, told, lines)
    if not alerts.webhook_url_env and alerts.github_issue is None and told:
        lines.append(
            f"{len(told)} change(s) not sent: no alert channel configured "
            "(alerts.webhook_url_env, alerts.github_issue)"
        )
    make_dirs(folder)
    write_atomic(path, json.dumps(state, indent=1, ensure_ascii=False), durable=True)
    return AlertReport(tuple(lines), failed)


def _webhook(
    config: Config, spool: Spool, told: Sequence[Change], lines: list[str], night: str
) -> bool:
    alerts = config.alerts
    env = alerts.webhook_url_env or ""
    url = os.environ.get(env, "").strip()

    def deliver(message: Mapping[str, Any]) -> bool:
        if not url:
            return False
        delivery, _ = send(url, message, alerts)
        if not delivery.ok:
            lines.append(f"webhook failed after {delivery.attempts} attempt(s): {delivery.error}")
        return delivery.ok

    if told:
        spool.add("webhook", _webhook_body(Path(night).name, told))
    sent, waiting = spool.drain("webhook", deliver)
    if sent:
        lines.append(f"webhook: {sent} message(s) delivered")
    if waiting:
        why = f"${env} is not set" if not url else "delivery failed"
        lines.append(
            f"webhook: {waiting} message(s) NOT delivered ({why}): spooled in "
            f"{spool.directory}, sent first on the next run"
        )
    return waiting > 0


def _github(config: Config, spool: Spool, told: Sequence[Change], lines: list[str]) -> bool:
    alerts = config.alerts
    settings = alerts.github_issue
    assert settings is not None
    repo = settings.repo or os.environ.get("GITHUB_REPOSITORY", "")
    token = os.environ.get(settings.token_env, "")
    client = GitHubIssues(settings, repo, token, alerts)
    for change in told:
        spool.add("github", _issue_op(change))

    def deliver(op: Mapping[str, Any]) -> bool:
        if not repo or not token:
            client.error = (
                "no repository ($GITHUB_REPOSITORY)"
                if not repo
                else (f"${settings.token_env} is not set")
            )
            return False
        return client.apply(op)

    sent, waiting = spool.drain("github", deliver)
    if sent:
        lines.append(f"GitHub issues: {sent} update(s) made in {repo}")
    if waiting:
        lines.append(
            f"GitHub issues: {waiting} update(s) NOT made ({client.error}): spooled in "
            f"{spool.directory}, retried first on the next run"
        )
    return waiting > 0
