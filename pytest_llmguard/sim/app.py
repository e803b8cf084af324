"""The simulator's routes and state: models, answer book, attempt counters, request log.

Routes: ``POST /v1/chat/completions``, ``POST /v1/messages`` (the Anthropic Messages
API: ``anthropic.AnthropicMessages``), ``GET /v1/models``, ``POST /v1/embeddings``,
``GET /_sim/requests`` (the request log), ``POST /_sim/reset`` (clear the log, attempt
counters and prompt caches), ``GET /_sim/health``.

Everything runs on the event loop thread; only the log is also read from other threads
(``SimServer.request_log``), hence its lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from pytest_llmguard.sim import payloads
from pytest_llmguard.sim.answers import (
    Completion,
    answer,
    count_prompt_tokens,
    count_tokens,
    is_variable,
)
from pytest_llmguard.sim.anthropic import AnthropicMessages
from pytest_llmguard.sim.chat import ChatCall
from pytest_llmguard.sim.determinism import prompt_sha, unit
from pytest_llmguard.sim.dialect import CallPlan, Dialect
from pytest_llmguard.sim.embeddings import embed
from pytest_llmguard.sim.faults import (
    SimOverrides,
    pick_fault,
    sim_overrides,
)
from pytest_llmguard.sim.http import HttpConnection, Request, response
from pytest_llmguard.sim.latency import plan_latency_ms
from pytest_llmguard.sim.models import SimModel
from pytest_llmguard.sim.openai_chat import OpenAIChat, openai_error
from pytest_llmguard.sim.request_body import (
    ChatRequest,
    embeddings_request,
    json_object,
)

LOG_FIELDS = (
    "t",
    "path",
    "model",
    "prompt_sha",
    "status",
    "fault",
    "prompt_tokens",
    "completion_tokens",
    "attempt",
    "latency_ms",
    "ttft_ms",
    "stream",
)
_CACHE_LIMIT = 100_000
_CACHE_GRANULE = 64  # cached prompt tokens come in multiples of this, as with OpenAI
Handler = Callable[[Request, HttpConnection], None]


class SimApp:
    """Answers requests; see the module docstring for the routes."""

    def __init__(
        self,
        *,
        models: Mapping[str, SimModel],
        answers: Mapping[str, str],
        seed: int,
        noise_sigma: float,
        latency_scale: float,
        require_api_key: str | None,
        log_limit: int = 1_000_000,
        run_seed: int | None = None,
    ) -> None:
        self.models = dict(models)
        self._answers = dict(answers)
        self._seed = seed
        self._run_seed = run_seed
        self._noise_sigma = noise_sigma
        self._latency_scale = latency_scale
        self._api_key = require_api_key
        self._log: deque[tuple[Any, ...]] = deque(maxlen=log_limit)
        self._log_lock = threading.Lock()
        self._attempts: dict[tuple[str, str], int] = {}
        self._seen_systems: set[tuple[str, str]] = set()
        self._completions: dict[tuple[str, str, int | None], Completion] = {}
        self._served: dict[tuple[str, str], float] = {}  # (model, prompt) -> last served
        self._models_body = payloads.models_body(self.models)
        self._openai = OpenAIChat()
        self._anthropic = AnthropicMessages()
        self._dialects: dict[str, Dialect] = {
            "/v1/chat/completions": self._openai,
            "/v1/messages": self._anthropic,
        }
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("POST", "/v1/messages"): self._messages,
            ("GET", "/v1/models"): self._list_models,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("GET", "/_sim/requests"): self._requests,
            ("POST", "/_sim/reset"): self._reset,
            ("GET", "/_sim/health"): self._health,
        }

    # -- public ----------------------------------------------------------------------

    def dispatch(self, req: Request, conn: HttpConnection) -> None:
        """Route one request (called by the connection)."""
        handler = self._routes.get((req.method, req.path))
        if handler is None:
            self._no_route(req, conn)
        elif (
            self._api_key is not None
            and req.path.startswith("/v1/")
            and not (dialect := self._dialects.get(req.path, self._openai)).authorized(
                req, self._api_key
            )
        ):
            self._log_request(req, status=401)
            conn.send(dialect.error(401, "Incorrect API key provided."))
        else:
            handler(req, conn)

    def log_snapshot(self) -> list[dict[str, Any]]:
        """The request log as a list of dicts (safe from any thread)."""
        with self._log_lock:
            rows = list(self._log)
        return [dict(zip(LOG_FIELDS, row, strict=True)) for row in rows]

    def reset(self) -> None:
        """Forget the log, the attempt counters and the prompt cache."""
        with self._log_lock:
            self._log.clear()
        self._attempts.clear()
        self._seen_systems.clear()
        self._served.clear()
        self._anthropic.reset()

    # -- chat ------------------------------------------------------------------------

    def _chat(self, req: Request, conn: HttpConnection) -> None:
        self._complete(req, conn, self._openai)

    def _messages(self, req: Request, conn: HttpConnection) -> None:
        self._complete(req, conn, self._anthropic)

    def _complete(self, req: Request, conn: HttpConnection, dialect: Dialect) -> None:
        try:
            chat = dialect.parse(req)
            overrides = sim_overrides(req.headers, dialect.responders)
        except ValueError as exc:
            self._log_request(req, status=400)
            conn.send(dialect.error(400, str(exc)))
            return
        model = self.models.get(chat.model)
        if model is None:
            self._log_request(req, status=404, model=chat.model)
            message = f"The model `{chat.model}` does not exist or you do not have access to it."
            conn.send(dialect.error(404, message))
            return
        sha = prompt_sha(chat.messages)
        key = (model.name, sha)
        attempt = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempt
        fault = overrides.fault or (overrides.fault_once if attempt == 1 else None)
        from_model = fault is None
        if from_model:
            fault = pick_fault(model, self._seed, sha, self._draw(attempt))
        try:
            call = self._call(
                req, conn, dialect, model, chat, overrides, sha, attempt, fault, from_model
            )
        except ValueError as exc:
            self._log_request(req, status=400, model=chat.model)
            conn.send(dialect.error(400, str(exc)))
            return
        delivered = fault is None or fault in dialect.delivers_content
        row = (
            req.received,
            req.path,
            model.name,
            sha,
            call.status,
            fault,
            call.prompt_tokens,
            call.completion.completion_tokens if delivered else None,
            attempt,
            call.latency_s * 1000.0,
            call.ttft_s * 1000.0,
            chat.stream,
        )
        with self._log_lock:
            self._log.append(row)
        dialect.respond(call, fault)

    def _call(
        self,
        req: Request,
        conn: HttpConnection,
        dialect: Dialect,
        model: SimModel,
        chat: ChatRequest,
        overrides: SimOverrides,
        sha: str,
        attempt: int,
        fault: str | None,
        from_model: bool,
    ) -> ChatCall:
        """Decide everything about the response before anything is sent."""
        latency_ms = overrides.latency_ms
        if latency_ms is None:
            latency_ms = self._latency_scale * plan_latency_ms(
                model, sha, self._draw(attempt), seed=self._seed, noise_sigma=self._noise_sigma
            )
            if model.prefix_cache and self._warm(model, sha, req.received):
                latency_ms *= 1.0 - model.prefix_cache
        plan = CallPlan(
            model.name,
            sha,
            attempt,
            count_prompt_tokens(chat.texts),
            self._cached_tokens(model.name, chat.system) if dialect.automatic_cache else 0,
            latency_ms / 1000.0,
            latency_ms * model.ttft_fraction / 1000.0,
            model.retry_after_s if overrides.retry_after_s is None else overrides.retry_after_s,
        )
        call = dialect.call(conn, req, chat, self._completion(model, chat, sha, attempt), plan)
        if fault is not None:
            draw = (
                unit(self._seed, "status", model.name, sha, self._draw(attempt))
                if from_model
                else None
            )
            call.status = dialect.fault_status(fault, req.headers, draw)
        return call

    def _draw(self, attempt: int) -> int | str:
        """What names one request's random draws: its attempt, and the run with run_seed."""
        return attempt if self._run_seed is None else f"{self._run_seed}:{attempt}"

    def _completion(self, model: SimModel, chat: ChatRequest, sha: str, attempt: int) -> Completion:
        # A variable prompt's answer differs per request: it is drawn anew and not kept.
        draw = self._draw(attempt) if is_variable(model, sha, self._seed) else None
        key = (model.name, sha, chat.max_tokens)
        completion = None if draw is not None else self._completions.get(key)
        if completion is None:
            if len(self._completions) >= _CACHE_LIMIT:
                self._completions.clear()
            completion = answer(
                model,
                last_user=chat.last_user,
                prompt_sha=sha,
                seed=self._seed,
                book=self._answers,
                max_tokens=chat.max_tokens,
                draw=draw,
            )
            if draw is None:
                self._completions[key] = completion
        return completion

    def _warm(self, model: SimModel, sha: str, now: float) -> bool:
        """Whether this model served the same prompt within its cache's lifetime."""
        key = (model.name, sha)
        last = self._served.get(key)
        if len(self._served) >= _CACHE_LIMIT:
            self._served.clear()
        self._served[key] = now
        return last is not None and now - last <= model.prefix_cache_ttl_s

    def _cached_tokens(self, model: str, system: str | None) -> int:
        """Mimic prompt caching: a system message seen before by this model is cached."""
        if not system:
            return 0
        key = (model, system)
        if key not in self._seen_systems:
            self._seen_systems.add(key)
            return 0
        return count_tokens(system) // _CACHE_GRANULE * _CACHE_GRANULE

    # -- other routes ----------------------------------------------------------------

    def _list_models(self, req: Request, conn: HttpConnection) -> None:
        self._log_request(req, status=200)
        conn.send(response(200, self._models_body))

    def _embeddings(self, req: Request, conn: HttpConnection) -> None:
        try:
            emb = embeddings_request(json_object(req.body))
        except ValueError as exc:
            self._log_request(req, status=400)
            conn.send(openai_error(400, str(exc), "invalid_request_error"))
            return
        tokens = sum(count_tokens(t) for t in emb.inputs)
        vectors = [embed(t, emb.dimensions) for t in emb.inputs]
        self._log_request(
            req,
            status=200,
            model=emb.model,
            prompt_sha=prompt_sha(emb.inputs),
            prompt_tokens=tokens,
        )
        conn.send(response(200, payloads.embeddings_body(emb.model, vectors, tokens)))

    def _requests(self, req: Request, conn: HttpConnection) -> None:
        conn.send(response(200, payloads.dumps(self.log_snapshot())))

    def _reset(self, req: Request, conn: HttpConnection) -> None:
        self.reset()
        conn.send(response(200, b'{"ok":true}'))

    def _health(self, req: Request, conn: HttpConnection) -> None:
        conn.send(response(200, b'{"ok":true}'))

    def _no_route(self, req: Request, conn: HttpConnection) -> None:
        allowed = [method for method, path in self._routes if path == req.path]
        if allowed:
            body = payloads.error_body(
                f"Method {req.method} not allowed for {req.path}", "invalid_request_error", None
            )
            conn.send(response(405, body, headers=(("Allow", ", ".join(allowed)),)))
            return
        self._log_request(req, status=404)
        message = f"Unknown request URL: {req.method} {req.path}."
        conn.send(openai_error(404, message, "unknown_url"))

    def _log_request(
        self,
        req: Request,
        *,
        status: int | None,
        model: str | None = None,
        prompt_sha: str | None = None,
        fault: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        attempt: int | None = None,
        latency_ms: float | None = None,
        ttft_ms: float | None = None,
        stream: bool = False,
    ) -> None:
        row = (
            req.received,
            req.path,
            model,
            prompt_sha,
            status,
            fault,
            prompt_tokens,
            completion_tokens,
            attempt,
            latency_ms,
            ttft_ms,
            stream,
        )
        with self._log_lock:
            self._log.append(row)
