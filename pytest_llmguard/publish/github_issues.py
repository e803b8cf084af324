"""One GitHub issue per kind of drift: opened, commented when worse, closed when gone.

Uses GitHub's REST issues API with a token from the environment. Each issue carries a
hidden marker (``<!-- llmguard-drift:KEY -->``) in its body and the configured labels,
so the issue of a drift kind is found again by listing the open issues with the first
label; nothing needs to be remembered between runs for that. Every operation is
idempotent (opening an issue that exists comments on it), so a spooled operation can
be replayed on a later run safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.config.records import AlertsConfig, GitHubIssueSettings
from pytest_llmguard.publish.webhook import send

MAX_TITLE = 256
MAX_BODY = 65_536


def marker(key: str) -> str:
    return f"<!-- llmguard-drift:{key} -->"


@dataclass
class GitHubIssues:
    """The issues API of one repository."""

    settings: GitHubIssueSettings
    repo: str
    token: str
    alerts: AlertsConfig  # retries, backoff, timeout
    error: str | None = None  # the last failure, for the run's output

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        url = f"{self.settings.api_url}/repos/{self.repo}{path}"
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        delivery, response = send(url, body, self.alerts, headers=headers, method=method)
        if not delivery.ok or response is None:
            self.error = f"{method} {path}: {delivery.error}"
            raise _Failed(self.error)
        return response.json() if response.content else None

    def find(self, key: str) -> int | None:
        """The open issue of this drift kind, by its marker."""
        label = self.settings.labels[0] if self.settings.labels else ""
        query = f"?state=open&per_page=100&labels={label}" if label else "?state=open"
        for issue in self._call("GET", f"/issues{query}") or []:
            if "pull_request" in issue:
                continue
            if marker(key) in (issue.get("body") or ""):
                return int(issue["number"])
        return None

    def apply(self, op: Mapping[str, Any]) -> bool:
        """Perform one operation (open, comment, close); False (with ``error``) on failure."""
        try:
            self._apply(op)
        except _Failed:
            return False
        except (ValueError, KeyError, TypeError) as exc:  # a reply that is not GitHub's
            self.error = f"unexpected reply from {self.settings.api_url}: {exc}"
            return False
        return True

    def _apply(self, op: Mapping[str, Any]) -> None:
        key, action = str(op["key"]), str(op["op"])
        body = str(op.get("body", ""))[: MAX_BODY - 200]
        number = self.find(key)
        if action == "close":
            if number is not None:
                self._call("POST", f"/issues/{number}/comments", {"body": body})
                self._call("PATCH", f"/issues/{number}", {"state": "closed"})
            return
        if number is not None:
            self._call("POST", f"/issues/{number}/comments", {"body": body})
            return
        title = str(op.get("title", key))[:MAX_TITLE]
        self._call(
            "POST",
            "/issues",
            {
                "title": title,
                "body": f"{marker(key)}\n{body}",
                "labels": list(self.settings.labels),
            },
        )


class _Failed(Exception):
    pass
