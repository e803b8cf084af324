"""SimServer: the simulator's lifecycle, in a running event loop or in its own thread.

In a running loop::

    server = SimServer(seed=1)
    await server.start()          # or: async with SimServer() as base_url:
    ...
    await server.stop()

From synchronous code (tests, the pytest plugin), in a daemon thread::

    with SimServer(latency_scale=0.01) as base_url:   # "http://127.0.0.1:PORT/v1"
        ...
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.sim.app import SimApp
from pytest_llmguard.sim.http import HttpConnection, WriteBatcher
from pytest_llmguard.sim.models import BUILTIN_MODELS, SimModel

_THREAD_START_TIMEOUT_S = 10.0


class SimServer:
    """A real OpenAI-compatible HTTP/1.1 server on the loopback interface.

    ``models`` are added to (and may replace) the built-in versions. ``answers`` maps the
    last user message to its reference answer. ``latency_scale`` multiplies every planned
    latency (tests use e.g. 0.01); ``noise_sigma`` is the lognormal sigma of per-request
    latency noise. With ``require_api_key``, ``/v1/*`` requests need that bearer token.
    ``run_seed`` (default None: every run alike) varies what a real model varies from run
    to run: per-request latency noise, injected faults and the answers of variable
    prompts; per-case latencies and stable answers stay fixed by ``seed``.
    """

    def __init__(
        self,
        *,
        models: Mapping[str, SimModel] | None = None,
        answers: Mapping[str, str] | None = None,
        seed: int = 0,
        noise_sigma: float = 0.05,
        host: str = "127.0.0.1",
        port: int = 0,
        require_api_key: str | None = None,
        latency_scale: float = 1.0,
        run_seed: int | None = None,
    ) -> None:
        if latency_scale < 0 or noise_sigma < 0:
            raise ValueError("latency_scale and noise_sigma must be >= 0")
        self.app = SimApp(
            models={**BUILTIN_MODELS, **(models or {})},
            answers=answers or {},
            seed=seed,
            noise_sigma=noise_sigma,
            latency_scale=latency_scale,
            require_api_key=require_api_key,
            run_seed=run_seed,
        )
        self._host = host
        self._port = port
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[HttpConnection] = set()
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None

    # -- in a running loop -----------------------------------------------------------

    async def start(self) -> None:
        """Start listening (the port is known afterwards)."""
        if self._server is not None:
            raise EngineError("the simulator is already running")
        loop = asyncio.get_running_loop()
        batcher = WriteBatcher(loop)
        try:
            self._server = await loop.create_server(
                lambda: HttpConnection(self.app.dispatch, self._connections, batcher),
                self._host,
                self._port,
                backlog=2048,
            )
        except OSError as exc:
            raise EngineError(
                f"the simulator could not listen on {self._host}:{self._port}: {exc}"
            ) from exc
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection (held timeouts included)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for conn in list(self._connections):
            conn.close()
        await server.wait_closed()

    async def __aenter__(self) -> str:
        await self.start()
        return self.base_url

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        await self.stop()

    # -- in a thread -----------------------------------------------------------------

    def start_in_thread(self) -> str:
        """Run the server on its own event loop in a daemon thread; return the base URL."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread_loop = loop
        self._thread = threading.Thread(target=run, name="llmguard-sim", daemon=True)
        self._thread.start()
        if not ready.wait(_THREAD_START_TIMEOUT_S):
            raise EngineError("the simulator thread did not start listening in time")
        if failure:
            self._thread = self._thread_loop = None
            raise failure[0]
        return self.base_url

    def stop_thread(self) -> None:
        """Stop the threaded server and wait for its thread to end."""
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_THREAD_START_TIMEOUT_S)
        self._thread = self._thread_loop = None

    def __enter__(self) -> str:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    # -- inspection ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port (after start)."""
        if self._server is None:
            raise EngineError("the simulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/v1``, the OpenAI base URL of this server."""
        return f"http://{self._host}:{self.port}/v1"

    @property
    def models(self) -> Mapping[str, SimModel]:
        """Every model version this server knows."""
        return self.app.models

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A snapshot of the request log (see app.LOG_FIELDS), safe from any thread."""
        return self.app.log_snapshot()

    def reset(self) -> None:
        """Clear the request log, attempt counters and prompt cache."""
        loop = self._thread_loop
        if loop is None or threading.current_thread() is self._thread:
            self.app.reset()
            return
        done = threading.Event()

        def reset_in_loop() -> None:
            self.app.reset()
            done.set()

        loop.call_soon_threadsafe(reset_in_loop)
        done.wait(_THREAD_START_TIMEOUT_S)
