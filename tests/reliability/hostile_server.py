"""A loopback HTTP server written to misbehave: each case's replies are scripted by its prompt.

The simulator answers like a well-behaved provider with faults on request; this server
sends whatever bytes a test scripts, including what no provider should send: a 200 whose
stream carries an error, usage counts of 400 digits, lone surrogates, terminal escapes,
redirects to another host, duplicate ``Content-Length`` headers, bad chunk sizes.

A reply is chosen by the request's last user message (exact match, else the first
scripted key it contains) and, where a script names one, the target (the request's
``x-hostile-target`` header), else by the request path; unscripted requests get a plain
completion. Successive attempts of the same prompt take successive replies (the last one
repeats), so "fails once, then succeeds" is a script of two. Every request is recorded
with its headers, so a test can see what reached which server.

Each connection serves one request and is closed (``Connection: close``): a scripted
reply may leave the stream in any state.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    """One scripted response: ``raw`` bytes sent as they are, or a status, headers, body."""

    status: int = 200
    headers: Headers = ()
    body: bytes = b""
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        head = [f"HTTP/1.1 {self.status} Scripted"]
        names = {name.lower() for name, _ in self.headers}
        if "content-length" not in names and "transfer-encoding" not in names:
            head.append(f"Content-Length: {len(self.body)}")
        head.extend(f"{name}: {value}" for name, value in self.headers)
        head.append("Connection: close")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


def dumps(value: Any) -> bytes:
    """JSON as a hostile server writes it: NaN allowed, lone surrogates as ``\\udXXX``."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode("ascii")


def completion(
    content: str = "Fine.",
    *,
    model: Any = "hostile-1",
    usage: Any = None,
    finish_reason: Any = "stop",
    extra: Mapping[str, Any] | None = None,
) -> Reply:
    """A Chat Completions response with whatever fields a test wants in it."""
    body: dict[str, Any] = {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
    }
    body["usage"] = (
        {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if usage is None
        else usage
    )
    body.update(extra or {})
    return Reply(200, [("Content-Type", "application/json")], dumps(body))


def chunk(content: str | None = None, *, model: Any = "hostile-1", **fields: Any) -> bytes:
    """One streamed Chat Completions chunk as an SSE ``data:`` event."""
    delta = {} if content is None else {"content": content}
    body: dict[str, Any] = {"object": "chat.completion.chunk", "model": model}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    body.update(fields)
    return b"data: " + dumps(body) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def stream(*events: bytes) -> Reply:
    """A 200 event stream made of the given (already framed) events."""
    return Reply(200, [("Content-Type", "text/event-stream")], b"".join(events))


def error_body(status: int, message: str) -> Reply:
    """An error response in the OpenAI shape, with a message a test chooses."""
    return Reply(
        status,
        [("Content-Type", "application/json")],
        dumps({"error": {"message": message, "type": "hostile"}}),
    )


def redirect(location: str, status: int = 307) -> Reply:
    return Reply(status, [("Location", location)])


@dataclass(frozen=True)
class Recorded:
    """One request as received: method, path, headers (lowercased names), prompt."""

    method: str
    path: str
    headers: Mapping[str, str]
    prompt: str | None
    body: bytes = field(repr=False, default=b"")


class HostileServer:
    """The server; ``script(prompt, *replies)`` or ``route(path, *replies)`` before the run."""

    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str | None], list[Reply]] = {}
        self._routes: dict[str, list[Reply]] = {}
        self._attempts: dict[object, int] = defaultdict(int)
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        """The base URL of the Chat Completions API (``.../v1``)."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, prompt: str, *replies: Reply, target: str | None = None) -> None:
        """Replies to requests whose last user message is (or contains) ``prompt``, from
        ``target`` only if given (its ``x-hostile-target`` header)."""
        self._scripts[(prompt, target)] = list(replies)

    def route(self, path: str, *replies: Reply) -> None:
        self._routes[path] = list(replies)

    def requests_for(self, prompt: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.prompt == prompt]

    def start(self) -> str:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._handle(self.request)

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.daemon_threads = True
        server.allow_reuse_address = True
        server.server_bind()
        server.server_activate()
        self._server = server
        threading.Thread(target=server.serve_forever, name="hostile-server", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- one connection --------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        try:
            request = _read_request(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        reply = self._reply_for(request)
        try:
            sock.sendall(reply.encode())
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client gave up first (a timeout test): nothing to tell it

    def _reply_for(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            key = self._key_of(request)
            if key is None:
                text = f"unscripted: {request.prompt or request.path}"
                return (
                    stream(chunk(text), DONE)
                    if b'"stream":true' in request.body
                    else completion(text)
                )
            replies = self._scripts[key] if isinstance(key, tuple) else self._routes[key]
            attempt = self._attempts[key]
            self._attempts[key] += 1
        return replies[min(attempt, len(replies) - 1)]

    def _key_of(self, request: Recorded) -> tuple[str, str | None] | str | None:
        prompt = request.prompt
        target = request.headers.get("x-hostile-target")
        if prompt is not None:
            for who in (target, None):
                if (prompt, who) in self._scripts:
                    return (prompt, who)
            for key in self._scripts:
                if key[0] in prompt and key[1] in (target, None):
                    return key
        return request.path if request.path in self._routes else None


def _read_request(sock: socket.socket) -> Recorded | None:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return Recorded(method, target.partition("?")[0], headers, _prompt_of(body), body)


def _prompt_of(body: bytes) -> str | None:
    """The last user message of a Chat Completions request (None for anything else)."""
    try:
        messages = json.loads(body).get("messages")
    except (ValueError, AttributeError):
        return None
    users: Iterable[Any] = (
        m.get("content") for m in messages or () if isinstance(m, dict) and m.get("role") == "user"
    )
    texts = [t for t in users if isinstance(t, str)]
    return texts[-1] if texts else None
