"""A Slack-compatible incoming-webhook receiver on 127.0.0.1 that can be told to fail.

with WebhookReceiver() as hook:
    hook.fail_next(3, status=503)      # the next three POSTs get 503
    ... POST to hook.url ...
    hook.messages                      # every body accepted, in order
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import LoopbackServer


class WebhookReceiver(LoopbackServer):
    """Accepts JSON POSTs (200 "ok", as Slack answers), or fails them on request."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self._failures: list[int] = []  # statuses for the next attempts (0: drop the connection)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver._failures.pop(0) if receiver._failures else 200
                    if status == 200:
                        receiver.messages.append(json.loads(body))
                if status == 0:
                    self.connection.close()
                    return
                reply = b"ok" if status == 200 else b"service unavailable"
                self.send_response(status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(Handler)
        self.url = f"{self.root}/hook"

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` attempts fail with ``status`` (0: the connection is dropped)."""
        with self._lock:
            self._failures.extend([status] * count)

    def recover(self) -> None:
        """Failures still queued are dropped: every attempt from now on succeeds."""
        with self._lock:
            self._failures.clear()
