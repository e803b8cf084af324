"""Endpoints: the usual opened provider, each target an HTTP endpoint at a base URL.

A provider whose targets need nothing started (``openai``, ``anthropic``, ``http``)
yields one from ``open`` as is; one that starts a server first (``sim``) yields one
pointing at it. :class:`SessionClient` is the usual client's plumbing: one aiohttp
session, opened on first use, with the run's timeout and concurrency, and one timed
request/response exchange.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config import RunConfig, TargetConfig
from pytest_llmguard.targets.base import Completion, TargetClient
from pytest_llmguard.targets.credentials import api_key_of
from pytest_llmguard.targets.embeddings import EmbeddingClient
from pytest_llmguard.targets.wire import (
    MAX_BODY_BYTES,
    http_fault,
    open_session,
    read_bounded,
    sent_at,
    wire_ms,
)

if TYPE_CHECKING:
    from typing import Self

    import aiohttp

ClientFactory = Callable[[TargetConfig, str, RunConfig], TargetClient]
StreamReader = Callable[["aiohttp.ClientResponse", float], Awaitable[Completion]]


@dataclass(frozen=True, slots=True)
class HttpEndpoints:
    """Clients made by ``make(target, base_url, run)``; embeddings at the same base URL
    (an OpenAI-compatible ``/embeddings``) unless ``embeddings`` is False."""

    base_urls: Mapping[str, str]  # target name -> base URL
    run: RunConfig
    make: ClientFactory
    embeddings: bool = True

    def client(self, target: TargetConfig) -> TargetClient:
        return self.make(target, self.base_urls[target.name], self.run)

    def embedder(self, target: TargetConfig, model: str) -> EmbeddingClient | None:
        if not self.embeddings:
            return None
        return EmbeddingClient(target, self.base_urls[target.name], model)


class SessionClient:
    """A target client over one aiohttp session; subclasses build and read the requests.

    ``_headers`` (set by the subclass before the first call) go with every request.
    """

    def __init__(
        self,
        config: TargetConfig,
        *,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        max_connections: int,
    ) -> None:
        self._config = config
        self._base_url = base_url
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {}

    @classmethod
    def for_target(cls, target: TargetConfig, base_url: str, run: RunConfig, **extra: Any) -> Self:
        """A client for ``target`` at ``base_url`` with the run's timeout and concurrency."""
        return cls(
            target,
            base_url=base_url,
            api_key=api_key_of(target),
            timeout_s=target.timeout_s or run.timeout_s,
            max_connections=target.concurrency or run.concurrency,
            **extra,
        )

    @property
    def config(self) -> TargetConfig:
        return self._config

    @property
    def max_connections(self) -> int:
        """The connection pool's size: the engine keeps no more calls than this in flight."""
        return self._max_connections

    @property
    def headers(self) -> Mapping[str, str]:
        """What every request sends (credentials included: never log it)."""
        return self._headers

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never appear in an error message (servers echo what they were sent)."""
        return (self._api_key,) if self._api_key else ()

    def _session_now(self) -> aiohttp.ClientSession:
        # Opened on first use: importing aiohttp costs ~0.3 s, a cached replay never pays it.
        if self._session is None:
            self._session = open_session(self._max_connections, self._timeout_s, self._headers)
        return self._session

    def prepare(self) -> None:
        self._session_now()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        parse: Callable[[bytes], Completion],
        read_stream: StreamReader,
        describe: Callable[[str], str] | None = None,
        **request: Any,
    ) -> Completion:
        """Send one request, timed on the wire; a status >= 300 is a classified fault
        (its message by ``describe``), else the body is ``parse``d or, for a streaming
        target, read by ``read_stream(response, sent_at)``."""
        session = self._session_now()
        t0 = time.perf_counter()
        async with session.request(method, url, **request) as resp:
            # Read now: once this body is read, the connection may carry another request.
            sent = sent_at(resp, t0)
            if not 200 <= resp.status < 300:
                raise await http_fault(resp, self.secrets, describe)
            if self._config.stream:
                return await read_stream(resp, sent)
            raw = await read_bounded(resp, MAX_BODY_BYTES)
            latency_ms = wire_ms(resp, sent)
        return replace(parse(raw), latency_ms=latency_ms)
