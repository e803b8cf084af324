"""Issue #5: a fast loopback OpenAI-compatible server, so benchmarks measure the client.

``fastserver.c`` (next to this file) is a single-threaded epoll server in C: HTTP/1.1
keep-alive and pipelining, ``POST /v1/chat/completions`` with a deterministic answer per
request body, ``x-sim-latency-ms: N`` delaying a response by N ms (sub-millisecond timer
precision), ``GET /_stats`` → ``{"requests": N, "distinct": D}``, ``POST /_reset``. It also
has a C load generator (``--bench``) to measure its own capacity.

    python benchmarks/fastserver.py     # build, start, print its capacity, self-check

    from fastserver import capacity, fast_server
    with fast_server() as server:
        print(capacity(server.base_url))
        ...  # point the client under test at server.base_url
        requests, distinct = server.stats()

The binary is compiled with gcc on first use into ``~/.cache/llmguard-bench/``, keyed by a
hash of the source, so it is rebuilt only when ``fastserver.c`` changes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("fastserver.c")
CFLAGS = ("-O2", "-Wall", "-Wextra", "-std=gnu11")
DEFAULT_CACHE = Path.home() / ".cache" / "llmguard-bench"
_SERVING = re.compile(r"fastserver serving (http://127\.0\.0\.1:\d+/v1)$")
_CAPACITY = re.compile(r"^capacity (\d+(?:\.\d+)?) requests/s$", re.MULTILINE)


def build(cache_dir: Path | None = None) -> Path:
    """The compiled server, built with gcc if this source has not been built before."""
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(CFLAGS).encode()).hexdigest()[:16]
    directory = cache_dir if cache_dir is not None else DEFAULT_CACHE
    binary = directory / f"fastserver-{key}"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    gcc = shutil.which("gcc")
    if gcc is None:
        raise RuntimeError("fastserver: gcc is not on PATH; it is needed to build the server")
    directory.mkdir(parents=True, exist_ok=True)
    # Compile to a private name, then rename: concurrent builds never see a partial binary.
    fd, tmp = tempfile.mkstemp(prefix=f".fastserver-{key}-", dir=directory)
    os.close(fd)
    try:
        done = subprocess.run(
            [gcc, *CFLAGS, "-o", tmp, str(SOURCE)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"fastserver: gcc failed (exit {done.returncode}) on {SOURCE}:\n{done.stderr}"
            )
        os.chmod(tmp, 0o755)
        os.replace(tmp, binary)
        for stale in directory.glob("fastserver-*"):  # builds of earlier sources
            if stale != binary:
                stale.unlink(missing_ok=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return binary


def _get_json(url: str, method: str = "GET") -> Any:
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass(frozen=True)
class FastServer:
    """A running fast server: ``base_url`` ends in ``/v1``; ``root`` is scheme://host:port."""

    base_url: str
    root: str
    pid: int

    def reset(self) -> None:
        """Zero the request and distinct-body counters."""
        _get_json(f"{self.root}/_reset", method="POST")

    def stats(self) -> tuple[int, int]:
        """(chat completions served, distinct request bodies) since start or reset."""
        body = _get_json(f"{self.root}/_stats")
        return int(body["requests"]), int(body["distinct"])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def fast_server(port: int = 0, cache_dir: Path | None = None) -> Iterator[FastServer]:
    """Build if needed, start the server on 127.0.0.1, yield it, terminate it on exit."""
    binary = build(cache_dir)
    process = subprocess.Popen(
        [str(binary), "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        process.stdout.close()
        match = _SERVING.match(line)
        if match is None:
            raise RuntimeError(f"fastserver did not start (exit {process.poll()}): {line!r}")
        base_url = match.group(1)
        yield FastServer(base_url=base_url, root=base_url.removesuffix("/v1"), pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def capacity(base_url: str, connections: int = 64, seconds: float = 2.0) -> float:
    """Chat completions per second the server at ``base_url`` answers, measured by the C
    load generator (``connections`` keep-alive connections, one request in flight on each,
    after a 0.3 s warm-up)."""
    done = subprocess.run(
        [
            str(build()),
            "--bench",
            base_url,
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    match = _CAPACITY.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(
            f"fastserver --bench failed (exit {done.returncode}): {done.stdout}{done.stderr}"
        )
    return float(match.group(1))


def _chat(base_url: str, content: str) -> dict[str, Any]:
    body = json.dumps({"model": "self-check", "messages": [{"role": "user", "content": content}]})
    request = urllib.request.Request(
        f"{base_url}/chat/completions",
        data=body.encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply: dict[str, Any] = json.loads(response.read())
    return reply


def _delays(root: str, latency_ms: int, count: int) -> list[float]:
    """Round trips in ms of ``count`` chat completions with ``x-sim-latency-ms``, sent one
    at a time over one keep-alive connection."""
    host, port = urllib.parse.urlsplit(root).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    times: list[float] = []
    try:
        for i in range(count):
            start = time.perf_counter()
            connection.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps({"messages": [{"role": "user", "content": f"delay {i}"}]}),
                headers={"x-sim-latency-ms": str(latency_ms)},
            )
            connection.getresponse().read()
            times.append((time.perf_counter() - start) * 1000)
    finally:
        connection.close()
    return times


def _self_check(server: FastServer) -> list[str]:
    """Problems found by a few plain requests; empty if none."""
    problems: list[str] = []
    server.reset()
    first = _chat(server.base_url, "what is 2 + 2?")
    again = _chat(server.base_url, "what is 2 + 2?")
    other = _chat(server.base_url, "what is 3 + 3?")
    answer = first["choices"][0]["message"]["content"]
    if first["object"] != "chat.completion" or first["model"] != "self-check":
        problems.append(f"unexpected reply {first}")
    if answer != again["choices"][0]["message"]["content"]:
        problems.append("the same prompt got different answers")
    if answer == other["choices"][0]["message"]["content"]:
        problems.append("different prompts got the same answer")
    usage = first["usage"]
    if usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"]:
        problems.append(f"inconsistent usage {usage}")
    if server.stats() != (3, 2):
        problems.append(f"stats {server.stats()} != (3, 2)")
    floor = statistics.median(_delays(server.root, 0, 20))
    delays = _delays(server.root, 20, 10)
    median = statistics.median(delays)
    print(
        f"x-sim-latency-ms: 20 → median {median:.2f} ms, min {min(delays):.2f} ms "
        f"(a 0 ms round trip: {floor:.2f} ms; http.client, one keep-alive connection)"
    )
    if min(delays) < 20:
        problems.append(f"a response came {min(delays):.2f} ms after the request, before 20 ms")
    if median - floor > 21:
        problems.append(f"median {median:.2f} ms for a 20 ms delay (0 ms: {floor:.2f} ms)")
    server.reset()
    if server.stats() != (0, 0):
        problems.append("reset did not zero the counters")
    return problems


def main() -> int:
    binary = build()
    print(f"binary: {binary}")
    with fast_server() as server:
        print(f"serving {server.base_url}")
        cpu_before = server.cpu_seconds()
        rate = capacity(server.base_url)
        served, _ = server.stats()
        cpu = server.cpu_seconds() - cpu_before
        print(f"capacity {rate:,.0f} requests/s (64 connections, C load generator)")
        if cpu > 0:
            print(
                f"server CPU {cpu * 1e6 / served:.1f} µs per request "
                f"(≈ {served / cpu:,.0f} requests/s per core)"
            )
        problems = _self_check(server)
    for problem in problems:
        print(f"FAIL {problem}")
    print("self-check ok" if not problems else "self-check FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
