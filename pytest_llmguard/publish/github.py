"""The sticky pull-request comment: one comment per pull request, updated in place.

The previous comment is found by the hidden marker the Markdown report starts with
(``report.markdown.COMMENT_MARKER``), walking every page of the pull request's comments
(``Link`` headers), and edited (PATCH); without one a comment is created (POST).

Where to post comes from the GitHub Actions environment (``GITHUB_REPOSITORY``, the PR
number in the event payload at ``GITHUB_EVENT_PATH``, ``GITHUB_API_URL`` — a GitHub
Enterprise URL such as ``https://ghe.example.com/api/v3`` works — and ``GITHUB_TOKEN``),
each overridable by ``LLMGUARD_GITHUB_*`` or the caller. A failure of the API is a
``PostResult`` saying what went wrong, never an exception: the gate's verdict does not
depend on it. The token is sent in one header and appears in no message.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from pytest_llmguard import __version__
from pytest_llmguard.report.escape import safe_text
from pytest_llmguard.report.markdown import COMMENT_MARKER

DEFAULT_API = "https://api.github.com"
TIMEOUT_S = 15.0
PAGE_SIZE = 100
MAX_PAGES = 100  # 10,000 comments: enough for any pull request, bounded all the same
FORK_HINT = (
    "this pull request comes from a fork, whose token is read-only: the report is in the "
    "step summary instead (to comment on forks, post from a pull_request_target or "
    "workflow_run workflow)"
)

Action = Literal["created", "updated", "unchanged", "failed"]


class ContextError(Exception):
    """Where to post is not known (no repository, pull request number or token)."""


@dataclass(frozen=True, slots=True)
class GitHubContext:
    """The repository and pull request to comment on, the API and its token."""

    repository: str  # owner/name
    number: int
    api_url: str = DEFAULT_API
    token: str = field(default="", repr=False)
    fork: bool = False  # the event says the pull request's head is in a fork


@dataclass(frozen=True, slots=True)
class PostResult:
    """What happened to the comment; ``message`` is safe to print and never has the token."""

    action: Action
    message: str
    url: str | None = None
    status: int | None = None
    fork_readonly: bool = False

    @property
    def ok(self) -> bool:
        return self.action != "failed"


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            event = json.load(fh)
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def _pull_number(event: Mapping[str, Any]) -> int | None:
    for key in ("pull_request", "issue"):
        part = event.get(key)
        if isinstance(part, dict) and isinstance(part.get("number"), int):
            return int(part["number"])
    number = event.get("number")
    return number if isinstance(number, int) else None


def _is_fork(event: Mapping[str, Any]) -> bool:
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        return False
    # head.repo.fork only says the head repository is a fork of something: a pull request
    # inside a fork has it too. Another repository than the base is what makes the token
    # read-only.
    head = (pull.get("head") or {}).get("repo") or {}
    base = (pull.get("base") or {}).get("repo") or {}
    return bool(head.get("full_name")) and head.get("full_name") != base.get("full_name")


def context_from_env(
    env: Mapping[str, str],
    *,
    repository: str | None = None,
    number: int | None = None,
    api_url: str | None = None,
) -> GitHubContext:
    """Where to post, from arguments, then ``LLMGUARD_GITHUB_*``, then GitHub's variables.

    ContextError names what is missing.
    """
    event = _event(env)
    repo = repository or _first(env, "LLMGUARD_GITHUB_REPOSITORY", "GITHUB_REPOSITORY")
    if not repo or repo.count("/") != 1:
        raise ContextError(
            "no repository: set GITHUB_REPOSITORY (or LLMGUARD_GITHUB_REPOSITORY) to owner/name"
        )
    if number is None:
        raw = _first(env, "LLMGUARD_GITHUB_PR")
        if raw is not None:
            if not raw.isdigit():
                raise ContextError(f"LLMGUARD_GITHUB_PR={raw!r} is not a pull request number")
            number = int(raw)
        else:
            number = _pull_number(event)
    if number is None:
        raise ContextError(
            "no pull request number: not a pull_request event (GITHUB_EVENT_PATH); "
            "set LLMGUARD_GITHUB_PR"
        )
    token = _first(env, "LLMGUARD_GITHUB_TOKEN", "GITHUB_TOKEN")
    if token is None:
        raise ContextError(
            "no token: pass the workflow's token as GITHUB_TOKEN "
            "(env: {GITHUB_TOKEN: ${{ github.token }}})"
        )
    api = api_url or _first(env, "LLMGUARD_GITHUB_API_URL", "GITHUB_API_URL") or DEFAULT_API
    return GitHubContext(repo, number, api.rstrip("/"), token, fork=_is_fork(event))


class _Failure(Exception):
    def __init__(self, result: PostResult) -> None:
        super().__init__(result.message)
        self.result = result


class _Api:
    """The few REST calls the comment needs, each failure turned into a PostResult."""

    def __init__(self, context: GitHubContext, client: httpx.Client) -> None:
        self.context = context
        self.client = client

    def _scrub(self, text: str) -> str:
        token = self.context.token
        return safe_text(text.replace(token, "[REDACTED]") if token else text, 300)

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        what = f"{method} {url.split('?')[0]}"
        # a read or an edit is safe to repeat once after a hiccup; a create is not
        attempts = 1 if method == "POST" else 2
        for attempt in range(attempts):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TimeoutException:
                if attempt + 1 < attempts:
                    continue
                raise _Failure(PostResult("failed", f"{what}: timed out")) from None
            except httpx.HTTPError as exc:
                if attempt + 1 < attempts:
                    continue
                reason = self._scrub(f"{type(exc).__name__}: {exc}")
                raise _Failure(PostResult("failed", f"{what}: {reason}")) from None
            if response.status_code in (502, 503, 504) and attempt + 1 < attempts:
                continue
            if response.is_success:
                return response
            raise _Failure(self._explain(what, response))
        raise AssertionError("unreachable")

    def _explain(self, what: str, response: httpx.Response) -> PostResult:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        said = payload.get("message", "") if isinstance(payload, dict) else ""
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if isinstance(errors, list):
            said += "".join(
                f"; {e.get('message') or e.get('code')}" for e in errors if isinstance(e, dict)
            )
        said = self._scrub(said)
        headers = response.headers
        limited = status == 429 or (
            status == 403
            and (
                headers.get("x-ratelimit-remaining") == "0"
                or "retry-after" in headers
                or "rate limit" in said.lower()  # the secondary rate limit says so
            )
        )
        if limited:
            wait = headers.get("retry-after") or headers.get("x-ratelimit-reset")
            hint = f" (retry after {wait})" if wait else ""
            return PostResult(
                "failed", f"{what}: rate limited by GitHub{hint}: {said}", status=status
            )
        if status == 401:
            return PostResult(
                "failed", f"{what}: 401 the token was rejected: {said}", status=status
            )
        if status == 403:
            if self.context.fork:
                return PostResult(
                    "failed", f"{what}: 403 {FORK_HINT}", status=status, fork_readonly=True
                )
            return PostResult(
                "failed",
                f"{what}: 403 forbidden: {said} (the workflow needs "
                "permissions: pull-requests: write)",
                status=status,
            )
        if status == 404:
            return PostResult(
                "failed",
                f"{what}: 404 no such repository or pull request, or the token cannot see it",
                status=status,
            )
        if status == 422:
            return PostResult("failed", f"{what}: 422 GitHub refused it: {said}", status=status)
        return PostResult("failed", f"{what}: HTTP {status} {said}".rstrip(), status=status)

    def comments(self) -> Iterator[dict[str, Any]]:
        """Every comment of the pull request, page by page (following ``rel="next"``)."""
        ctx = self.context
        url: str | None = f"{ctx.api_url}/repos/{ctx.repository}/issues/{ctx.number}/comments"
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.call("GET", url, params=params)
            page = response.json()
            if not isinstance(page, list):
                raise _Failure(PostResult("failed", f"GET {url}: not a list of comments"))
            yield from (c for c in page if isinstance(c, dict))
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries its own query


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process (building one costs ~60 ms; the CLI may post twice)."""
    return httpx.create_ssl_context()


def _ours(comments: Iterator[dict[str, Any]], marker: str) -> dict[str, Any] | None:
    """The comment to update: the first with the marker, a bot's before a person's."""
    found = [c for c in comments if str(c.get("body") or "").startswith(marker)]
    bots = [c for c in found if (c.get("user") or {}).get("type") == "Bot"]
    chosen = bots or found
    return chosen[0] if chosen else None


def post_comment(
    context: GitHubContext,
    body: str,
    *,
    marker: str = COMMENT_MARKER,
    timeout_s: float = TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> PostResult:
    """Update the pull request's comment that starts with ``marker``, else create one."""
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {context.token}",
        "User-Agent": f"pytest-llmguard/{__version__}",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(
        headers=headers, timeout=timeout_s, transport=transport, verify=_tls()
    ) as client:
        api = _Api(context, client)
        try:
            existing = _ours(api.comments(), marker)
            if existing is None:
                url = (
                    f"{context.api_url}/repos/{context.repository}/issues/{context.number}/comments"
                )
                created = api.call("POST", url, json={"body": body}).json()
                link = created.get("html_url") if isinstance(created, dict) else None
                return PostResult("created", f"created the PR comment {link or ''}".strip(), link)
            link = existing.get("html_url")
            if existing.get("body") == body:
                return PostResult(
                    "unchanged", f"the PR comment is up to date {link or ''}".strip(), link
                )
            comment = (
                f"{context.api_url}/repos/{context.repository}/issues/comments/{existing['id']}"
            )
            api.call("PATCH", comment, json={"body": body})
            return PostResult("updated", f"updated the PR comment {link or ''}".strip(), link)
        except _Failure as failure:
            return failure.result
