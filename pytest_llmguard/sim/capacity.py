"""How many requests per second the simulator answers, measured from another process.

``measure_capacity`` drives a running server with a raw asyncio keep-alive client (far
cheaper per request than httpx or aiohttp, so the client is not what gets measured) and
minimal chat completions sent with ``x-sim-latency-ms: 0``. ``run_capacity_check`` starts
a server in a subprocess first, so server and client do not share one CPU core.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

from pytest_llmguard.exceptions import EngineError

_PROMPTS = 256
_WARMUP_S = 0.3
_URL_LINE = re.compile(rb"(http://\S+/v1)")
_STARTUP_TIMEOUT_S = 20.0


def measure_capacity(base_url: str, *, connections: int = 64, duration_s: float = 2.0) -> float:
    """Requests per second of minimal chat completions against ``base_url``.

    Synchronous: runs its own event loop (call it from a thread if a loop is running).
    """
    return asyncio.run(_measure(base_url, connections, duration_s))


def run_capacity_check(*, connections: int = 64, duration_s: float = 2.0) -> float:
    """Start a simulator in a subprocess, measure it from this process, stop it."""
    command = [sys.executable, "-m", "pytest_llmguard.sim.command", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as child:
        try:
            base_url = _read_base_url(child)
            return measure_capacity(base_url, connections=connections, duration_s=duration_s)
        finally:
            child.terminate()
            child.wait(_STARTUP_TIMEOUT_S)


def _read_base_url(child: subprocess.Popen[bytes]) -> str:
    assert child.stdout is not None
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        match = _URL_LINE.search(line)
        if match:
            return match.group(1).decode()
    raise EngineError("the simulator subprocess did not print its URL")


def _requests(host: str, port: int, path: str) -> list[bytes]:
    requests = []
    for i in range(_PROMPTS):
        body = json.dumps(
            {
                "model": "sim-stable",
                "messages": [{"role": "user", "content": f"capacity probe {i}"}],
                "max_tokens": 16,
            }
        ).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"x-sim-latency-ms: 0\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        requests.append(head + body)
    return requests


class _Counter:
    __slots__ = ("errors", "ok", "running")

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.running = True


class _ProbeClient(asyncio.Protocol):
    """Keep-alive client: sends the next request as soon as a response is complete."""

    def __init__(self, requests: list[bytes], offset: int, counter: _Counter) -> None:
        self._requests = requests
        self._next = offset
        self._counter = counter
        self._buffer = bytearray()
        self._need = -1
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._send()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while self._complete_response():
            if self._counter.running:
                self._send()

    def _send(self) -> None:
        assert self._transport is not None
        self._next = (self._next + 1) % len(self._requests)
        self._transport.write(self._requests[self._next])

    def _complete_response(self) -> bool:
        buffer = self._buffer
        if self._need < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            start = buffer.find(b"Content-Length: ", 0, end) + 16
            self._need = end + 4 + int(buffer[start : buffer.find(b"\r\n", start)])
        if len(buffer) < self._need:
            return False
        if buffer.startswith(b"HTTP/1.1 200"):
            self._counter.ok += 1
        else:
            self._counter.errors += 1
        del buffer[: self._need]
        self._need = -1
        return True


def _same(client: _ProbeClient) -> _ProbeClient:
    return client


async def _measure(base_url: str, connections: int, duration_s: float) -> float:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    requests = _requests(host, port, url.path.rstrip("/") + "/chat/completions")
    loop = asyncio.get_running_loop()
    counter = _Counter()
    transports = []
    for i in range(connections):
        client = _ProbeClient(requests, i * 7, counter)
        transport, _ = await loop.create_connection(functools.partial(_same, client), host, port)
        transports.append(transport)
    await asyncio.sleep(_WARMUP_S)
    start_count, start = counter.ok, time.perf_counter()
    await asyncio.sleep(duration_s)
    done, elapsed = counter.ok - start_count, time.perf_counter() - start
    counter.running = False
    for transport in transports:
        transport.close()
    if counter.errors:
        raise EngineError(f"capacity probe got {counter.errors} non-200 responses")
    return done / elapsed
