"""A Slack-compatible incoming-webhook POST, retried with backoff.

The body is ``{"text": ..., "blocks": [...]}``: ``text`` is the notification fallback,
``blocks`` are ``section`` blocks of ``mrkdwn``. Slack's limits are kept: at most 50
blocks, at most 3,000 characters of text per section block (a longer one is refused
with 400), and the fallback text well under the 40,000 characters where Slack truncates
(we keep 3,000). Text from the run (model outputs, case ids) is escaped for ``mrkdwn``
(``&``, ``<``, ``>``), so it cannot mention ``<!channel>`` or forge a link.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_llmguard.config.records import AlertsConfig

MAX_BLOCKS = 50
MAX_BLOCK_TEXT = 3000
MAX_FALLBACK = 3000
MAX_BACKOFF_S = 30.0


def mrkdwn_escape(text: str) -> str:
    """Text as Slack mrkdwn shows it literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def slack_message(title: str, sections: Sequence[str]) -> dict[str, Any]:
    """A webhook body within Slack's limits; ``sections`` are already-escaped mrkdwn."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(title, MAX_BLOCK_TEXT)}}
    ]
    shown = list(sections)
    if len(shown) > MAX_BLOCKS - 1:
        hidden = len(shown) - (MAX_BLOCKS - 2)
        shown = [*shown[: MAX_BLOCKS - 2], f"…and {hidden} more"]
    for text in shown:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_BLOCK_TEXT)}}
        )
    fallback = _cut("\n".join([title, *sections]), MAX_FALLBACK)
    return {"text": fallback, "blocks": blocks}


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one message: delivered or not, after how many attempts, why."""

    ok: bool
    attempts: int
    error: str | None = None


def send(
    url: str,
    body: Mapping[str, Any] | None,
    alerts: AlertsConfig,
    *,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
) -> tuple[Delivery, httpx.Response | None]:
    """``post_with_retries`` with the ``alerts`` section's retries, backoff and timeout."""
    return post_with_retries(
        url,
        body,
        retries=alerts.retries,
        backoff_s=alerts.backoff_s,
        timeout_s=alerts.timeout_s,
        headers=headers,
        method=method,
    )


def post_with_retries(
    url: str,
    body: Mapping[str, Any] | None,
    *,
    retries: int,
    backoff_s: float,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Delivery, httpx.Response | None]:
    """Send JSON (``body``; None: no body), retrying with exponential backoff.

    Connection errors, timeouts, 429 and 5xx are retried; other 4xx are not (the
    request itself is wrong: retrying cannot help).
    """
    error = "not sent"
    for attempt in range(1, retries + 2):
        wait = min(MAX_BACKOFF_S, backoff_s * 2 ** (attempt - 1))
        try:
            response = httpx.request(
                method,
                url,
                json=None if body is None else dict(body),
                headers=dict(headers or {}),
                timeout=timeout_s,
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 300:
                return Delivery(True, attempt), response
            error = f"HTTP {response.status_code}: {_cut(response.text, 200)}"
            if response.status_code != 429 and response.status_code < 500:
                return Delivery(False, attempt, error), response
            after = response.headers.get("retry-after", "")
            if after.isdigit():
                wait = min(MAX_BACKOFF_S, max(wait, float(after)))
        if attempt <= retries:
            sleep(wait)
    return Delivery(False, retries + 1, error), None
