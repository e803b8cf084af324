"""A fake of GitHub's REST issues API on 127.0.0.1 (issues, comments, close), for alerts.

Only what the drift alerts use: list open issues (``?state=open&labels=``), create an
issue, comment on one, close one; a bearer token is required (401 otherwise) and the
next calls can be told to fail. Pull requests never appear (there are none).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import LoopbackServer

_ISSUES = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues$")
_ISSUE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)$")
_COMMENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<n>\d+)/comments$")


class FakeGitHubIssues(LoopbackServer):
    """Issues of any repository, kept in memory: ``issues[number]`` with ``comments``."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.issues: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.calls.append((method, self.path))
                    failure = fake._failures.pop(0) if fake._failures else None
                    if failure is not None:
                        self._reply(failure, {"message": "fake failure"})
                        return
                    if self.headers.get("authorization") != f"Bearer {fake.token}":
                        self._reply(401, {"message": "Bad credentials"})
                        return
                    status, body = fake._route(method, self.path, json.loads(raw) if raw else None)
                self._reply(status, body)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.url = self.root

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if (m := _ISSUES.match(parts.path)) and method == "GET":
            state = query.get("state", ["open"])[0]
            labels = set(query.get("labels", [""])[0].split(",")) - {""}
            found = [
                i
                for i in self.issues.values()
                if (state == "all" or i["state"] == state) and labels <= set(i["labels"])
            ]
            return 200, [{k: v for k, v in i.items() if k != "comments"} for i in found]
        if (m := _ISSUES.match(parts.path)) and method == "POST":
            number = len(self.issues) + 1
            self.issues[number] = {
                "number": number,
                "repo": m["repo"],
                "title": body["title"],
                "body": body.get("body", ""),
                "labels": list(body.get("labels", [])),
                "state": "open",
                "comments": [],
            }
            return 201, {"number": number}
        if (m := _COMMENTS.match(parts.path)) and method == "POST":
            issue = self.issues.get(int(m["n"]))
            if issue is None:
                return 404, {"message": "Not Found"}
            issue["comments"].append(body["body"])
            return 201, {"id": len(issue["comments"])}
        if (m := _ISSUE.match(parts.path)) and method == "PATCH":
            issue = self.issues.get(int(m["n"]))
            if issue is None:
                return 404, {"message": "Not Found"}
            issue["state"] = body.get("state", issue["state"])
            return 200, {"number": issue["number"], "state": issue["state"]}
        return 404, {"message": "Not Found"}

    def fail_next(self, count: int, status: int = 502) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def open_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues.values() if i["state"] == "open"]
