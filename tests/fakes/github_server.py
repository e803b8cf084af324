"""A fake GitHub REST API on 127.0.0.1: the routes and JSON shapes the publishers use.

It checks the token, paginates lists with ``Link`` headers as GitHub does, refuses
bodies over 65,536 characters with GitHub's 422, and fails on demand (any status,
headers and body, or a delay for timeouts). Use it as a context manager::

    with FakeGitHub(token="ghs_x", prefix="/api/v3") as gh:   # prefix: GitHub Enterprise
        gh.add_pull("octo/repo", 7)
        gh.fail("POST", r"/comments$", status=502)            # the next POST fails once
        ...  # point the code at gh.url with GITHUB_API_URL, then:
        gh.comments("octo/repo", 7)                            # what was posted
        gh.requests                                            # every request, token-free

Routes (paths after ``prefix``):

- ``GET|POST /repos/{owner}/{repo}/issues/{number}/comments`` (``per_page``, ``page``)
- ``GET|PATCH /repos/{owner}/{repo}/issues/comments/{id}``
- ``GET|POST /repos/{owner}/{repo}/issues`` (``state``, ``labels``, ``per_page``, ``page``)
  and ``PATCH /repos/{owner}/{repo}/issues/{number}``, for alerts that open issues

A token in ``readonly_tokens`` may read but not write (403 "Resource not accessible by
integration"), as the token of a pull request from a fork.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

BODY_LIMIT = 65_536
DOCS = "https://docs.github.com/rest"


@dataclass
class Failure:
    """A planned failure: the next ``times`` requests matching method and path get it."""

    method: str
    path: re.Pattern[str]
    status: int
    times: int = 1
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    """One request as the fake saw it; the Authorization header is never kept."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorized: bool


class FakeGitHub:
    """The fake API (see the module docstring); ``url`` is its API base URL."""

    def __init__(
        self,
        *,
        token: str = "ghs_fake_token",
        readonly_tokens: tuple[str, ...] = (),
        prefix: str = "",
        login: str = "github-actions[bot]",
    ) -> None:
        self.token = token
        self.readonly_tokens = readonly_tokens
        self.prefix = prefix.rstrip("/")
        self.login = login
        self.requests: list[Request] = []
        self._pulls: set[tuple[str, int]] = set()
        self._comments: dict[int, dict[str, Any]] = {}
        self._issues: dict[str, list[dict[str, Any]]] = {}
        self._failures: list[Failure] = []
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # ---- set-up and inspection ------------------------------------------------------

    def add_pull(self, repo: str, number: int) -> None:
        self._pulls.add((repo, number))

    def add_comment(
        self, repo: str, number: int, body: str, *, login: str | None = None, user_type: str = "Bot"
    ) -> dict[str, Any]:
        """A comment already on the pull request (someone's, or an earlier run's)."""
        with self._lock:
            return self._new_comment(repo, number, body, login or self.login, user_type)

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        issue_url = f"{self.url}/repos/{repo}/issues/{number}"
        return [c for c in self._comments.values() if c["issue_url"] == issue_url]

    def issues(self, repo: str) -> list[dict[str, Any]]:
        return list(self._issues.get(repo, []))

    def fail(
        self,
        method: str,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` requests whose path matches regex ``path`` fail."""
        self._failures.append(
            Failure(method.upper(), re.compile(path), status, times, body, headers or {}, delay)
        )

    # ---- life cycle -----------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}{self.prefix}"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- the API --------------------------------------------------------------------

    def _new_comment(
        self, repo: str, number: int, body: str, login: str, user_type: str = "Bot"
    ) -> dict[str, Any]:
        self._next_id += 1
        cid = self._next_id
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        comment = {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{repo}/issues/comments/{cid}",
            "html_url": f"https://github.example/{repo}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
            "body": body,
            "user": {"login": login, "id": 41898282, "type": user_type},
            "created_at": stamp,
            "updated_at": stamp,
            "author_association": "NONE",
        }
        self._comments[cid] = comment
        return comment

    def handle(
        self, method: str, raw_path: str, auth: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw_path)
        query = parse_qs(split.query)
        token = (auth or "").removeprefix("Bearer ").removeprefix("token ").strip()
        with self._lock:
            self.requests.append(
                Request(
                    method, split.path, query, body, token in (self.token, *self.readonly_tokens)
                )
            )
            failure = next(
                (
                    f
                    for f in self._failures
                    if f.method == method and f.times > 0 and f.path.search(split.path)
                ),
                None,
            )
            if failure is not None:
                failure.times -= 1
        if failure is not None:
            if failure.delay:
                time.sleep(failure.delay)
            payload = failure.body if failure.body is not None else {"message": "Server Error"}
            return failure.status, payload, failure.headers
        if not split.path.startswith(self.prefix + "/"):
            return 404, {"message": "Not Found", "documentation_url": DOCS}, {}
        path = split.path[len(self.prefix) :]
        if token not in (self.token, *self.readonly_tokens):
            return 401, {"message": "Bad credentials", "documentation_url": DOCS}, {}
        if method != "GET" and token in self.readonly_tokens:
            return (
                403,
                {"message": "Resource not accessible by integration", "documentation_url": DOCS},
                {},
            )
        with self._lock:
            return self._route(method, path, query, body, split.path)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, full_path: str
    ) -> tuple[int, Any, dict[str, str]]:
        not_found = (404, {"message": "Not Found", "documentation_url": DOCS}, {})
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path):
            repo, number = m.group(1), int(m.group(2))
            if (repo, number) not in self._pulls:
                return not_found
            if method == "GET":
                return self._page(self.comments(repo, number), query, full_path)
            if method == "POST":
                problem = _check_body(body)
                if problem:
                    return problem
                return 201, self._new_comment(repo, number, body["body"], self.login), {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/comments/(\d+)", path):
            comment = self._comments.get(int(m.group(2)))
            if comment is None or f"/repos/{m.group(1)}/" not in comment["url"]:
                return not_found
            if method == "GET":
                return 200, comment, {}
            if method == "PATCH":
                problem = _check_body(body)
                if problem:
                    return problem
                comment["body"] = body["body"]
                comment["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                return 200, comment, {}
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues", path):
            return self._issues_route(m.group(1), method, query, body, full_path)
        if m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)", path):
            found = [i for i in self._issues.get(m.group(1), []) if i["number"] == int(m.group(2))]
            if not found:
                return not_found
            if method == "GET":
                return 200, found[0], {}
            if method == "PATCH" and isinstance(body, dict):
                found[0].update({k: v for k, v in body.items() if k in ("title", "body", "state")})
                return 200, found[0], {}
        return not_found

    def _issues_route(
        self, repo: str, method: str, query: dict[str, list[str]], body: Any, full_path: str
    ) -> tuple[int, Any, dict[str, str]]:
        issues = self._issues.setdefault(repo, [])
        if method == "GET":
            state = query.get("state", ["open"])[0]
            labels = {x for x in query.get("labels", [""])[0].split(",") if x}
            chosen = [
                i
                for i in issues
                if (state == "all" or i["state"] == state)
                and labels <= {label["name"] for label in i["labels"]}
            ]
            return self._page(chosen, query, full_path)
        if method == "POST":
            problem = _check_body(body, key="title")
            if problem:
                return problem
            self._next_id += 1
            number = len(issues) + 1
            issue = {
                "id": self._next_id,
                "number": number,
                "title": body["title"],
                "body": body.get("body", ""),
                "state": "open",
                "labels": [{"name": n} for n in body.get("labels", [])],
                "html_url": f"https://github.example/{repo}/issues/{number}",
                "url": f"{self.url}/repos/{repo}/issues/{number}",
                "user": {"login": self.login, "type": "Bot"},
            }
            issues.append(issue)
            return 201, issue, {}
        return 404, {"message": "Not Found", "documentation_url": DOCS}, {}

    def _page(
        self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str
    ) -> tuple[int, Any, dict[str, str]]:
        """One page of ``items``, with GitHub's Link header (absolute URLs)."""
        per_page = min(100, int(query.get("per_page", ["30"])[0]))
        page = int(query.get("page", ["1"])[0])
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        origin = self.url[: len(self.url) - len(self.prefix)] if self.prefix else self.url
        params = {k: v[0] for k, v in query.items()}

        def link(n: int, rel: str) -> str:
            query = urlencode({**params, "per_page": per_page, "page": n})
            return f'<{origin}{path}?{query}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})


def _check_body(body: Any, key: str = "body") -> tuple[int, Any, dict[str, str]] | None:
    if not isinstance(body, dict) or not isinstance(body.get(key), str):
        return 422, {"message": "Invalid request.", "documentation_url": DOCS}, {}
    if len(body.get("body") or "") > BODY_LIMIT:
        return (
            422,
            {
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "IssueComment",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 65536 characters)",
                    }
                ],
                "documentation_url": DOCS,
            },
            {},
        )
    return None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        status, payload, headers = self.fake.handle(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up (a timeout test)
            self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
