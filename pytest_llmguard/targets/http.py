"""``provider: http``: any JSON endpoint, for a model behind a team's own gateway.

The target's ``base_url`` is the whole URL; ``method`` (POST, PUT or GET) sends the
``body`` template filled for the case (see ``http_template``: JSON-safe, so a prompt
with quotes or newlines cannot break it; a GET sends the filled body's top-level
entries as query parameters). ``headers`` values may name environment variables as
``${NAME}``: they are expanded when the client is made, never enter the cache key, and
are removed from error messages; an unset one fails that target's calls clearly.

A 2xx response is read with selectors: ``output_path`` for the text, ``usage_paths``
(``input``, ``output``, ``cached``, ``cache_write``) for token counts, ``error_path`` for
an error the endpoint reports with a 2xx (then the call is a ``server_error``). Any
other status is an error of its class (429 ``rate_limit`` with its Retry-After, 5xx
``server_error``, 4xx ``client_error``, its message read at ``error_path`` when set),
never scored as an output. With ``stream: true`` the response is server-sent events:
``stream_path`` selects each event's text (time to first token is the first one),
usage selectors apply to every event (the last value found wins), and with
``stream_done`` (e.g. ``[DONE]``) a stream that ends without that data line is
``invalid_response``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmguard.config import RunConfig, TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case
from pytest_llmguard.suggest import did_you_mean_hint
from pytest_llmguard.targets.base import Completion, TargetClient
from pytest_llmguard.targets.credentials import ENV_REFERENCE, MissingCredentials, expand_env
from pytest_llmguard.targets.endpoints import HttpEndpoints, SessionClient
from pytest_llmguard.targets.http_template import (
    MISSING,
    PLACEHOLDERS,
    Path,
    case_values,
    parse_selector,
    render,
    select,
    template_problems,
    text_of,
)
from pytest_llmguard.targets.registry import Problem, ProviderContext
from pytest_llmguard.targets.wire import (
    SSEEvent,
    error_message,
    feed_events,
    int_or_none,
    valid_text,
    wire_ms,
)

if TYPE_CHECKING:
    import aiohttp

USAGE_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cached": "cached_tokens",
    "cache_write": "cache_write_tokens",
}


class HttpClient(SessionClient):
    """Calls one JSON endpoint with a templated body; reads it with selectors."""

    def __init__(self, config: TargetConfig, **options: Any) -> None:
        super().__init__(config, **options)
        extra = config.extra
        self._method = str(extra.get("method") or "POST")
        self._template = extra.get("body")
        self._output = _selector(extra.get("output_path"))
        self._error = _selector(extra.get("error_path"))
        self._stream_text = _selector(extra.get("stream_path"))
        self._stream_done = extra.get("stream_done")
        self._usage = {
            USAGE_KEYS[key]: parse_selector(path)
            for key, path in (extra.get("usage_paths") or {}).items()
        }
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if self._api_key:
            self._headers["authorization"] = f"Bearer {self._api_key}"
        secrets = [self._api_key] if self._api_key else []
        for name, value in config.headers.items():
            self._headers[name], _ = expand_env(value)
            secrets.extend(os.environ.get(n, "") for n, _ in ENV_REFERENCE.findall(value))
        self._secrets = tuple(s for s in secrets if s)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def request_body(self, case: Case) -> Any:
        """The filled body template; CallFault(client_error) when a value is missing."""
        try:
            return render(self._template, case_values(case, self._config))
        except KeyError as exc:
            raise CallFault(
                "client_error", f"body template: {{{{{exc.args[0]}}}}} has no value for this case"
            ) from None

    def request_identity(self, case: Case) -> dict[str, Any]:
        try:
            body = self.request_body(case)
        except CallFault:  # the call itself fails with the message; the key just differs
            body = {"unfilled": self._template, "case": case.key}
        # The headers as written: ${NAME} references, never the secrets they expand to.
        return {
            "provider": self._config.provider,
            "method": self._method,
            "url": self._base_url,
            "headers": dict(sorted(self._config.headers.items())),
            "body": body,
        }

    async def complete(self, case: Case) -> Completion:
        body = self.request_body(case)
        if self._method == "GET":
            query = body if isinstance(body, dict) else {}
            options: dict[str, Any] = {"params": {k: text_of(v) for k, v in query.items()}}
        else:
            options = {"data": json.dumps(body, separators=(",", ":")).encode()}
        return await self.exchange(
            self._method,
            self._base_url,
            parse=self._parse,
            read_stream=self._read_stream,
            describe=self._error_text,
            **options,
        )

    def _error_text(self, text: str) -> str:
        if self._error is not None:
            try:
                found = select(json.loads(text), self._error)
            except ValueError:
                found = MISSING
            if found is not MISSING and found is not None:
                return text_of(found)
        return error_message(text)

    def _parse(self, raw: bytes) -> Completion:
        document = _json(raw, "response body")
        self._raise_reported_error(document)
        if self._output is None:
            raise CallFault("invalid_response", "no output_path to read the response with")
        output = select(document, self._output)
        if output is MISSING or output is None:
            where = self._config.extra.get("output_path")
            raise CallFault("invalid_response", f"the response has no value at {where!r}")
        return Completion(
            output=valid_text(text_of(output)), model=self._config.model, **self._counts(document)
        )

    def _raise_reported_error(self, document: Any) -> None:
        if self._error is None:
            return
        found = select(document, self._error)
        if found is not MISSING and found not in (None, "", False, {}, []):
            raise CallFault("server_error", f"the endpoint reported an error: {text_of(found)}")

    def _counts(self, document: Any, counts: dict[str, Any] | None = None) -> dict[str, Any]:
        counts = {} if counts is None else counts
        for field, path in self._usage.items():
            value = int_or_none(select(document, path))
            if value is not None:
                counts[field] = value
        return counts

    async def _read_stream(self, resp: aiohttp.ClientResponse, t0: float) -> Completion:
        parts: list[str] = []
        counts: dict[str, Any] = {}
        ttft_ms: list[float] = []
        done = self._stream_done.encode() if isinstance(self._stream_done, str) else None
        finished: list[bool] = []

        def take(event: SSEEvent) -> bool:
            if done is not None and event.data.strip() == done:
                finished.append(True)
                return True
            document = _json(event.data, "stream event")
            self._raise_reported_error(document)
            piece = select(document, self._stream_text) if self._stream_text else MISSING
            if piece is not MISSING and piece is not None and piece != "":
                if not ttft_ms:
                    ttft_ms.append(wire_ms(resp, t0))
                parts.append(text_of(piece))
            self._counts(document, counts)
            return False

        await feed_events(resp, take)
        if done is not None and not finished:
            raise CallFault(
                "invalid_response", f"stream ended before {self._stream_done!r} (truncated)"
            )
        return Completion(
            output=valid_text("".join(parts)),
            model=self._config.model,
            ttft_ms=ttft_ms[0] if ttft_ms else None,
            latency_ms=wire_ms(resp, t0),
            **counts,
        )


def _selector(text: Any) -> Path | None:
    return parse_selector(text) if isinstance(text, str) else None


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except UnicodeDecodeError as exc:
        raise CallFault("invalid_response", f"{what} is not valid UTF-8: {exc.reason}") from None
    except ValueError as exc:
        raise CallFault("invalid_response", f"{what} is not valid JSON: {exc}") from None


def make_client(target: TargetConfig, base_url: str, run: RunConfig) -> TargetClient:
    """An http client, or a stand-in whose calls fail if a header names an unset variable."""
    for name, value in target.headers.items():
        _, unset = expand_env(value)
        if unset:
            return MissingCredentials(
                target,
                f"environment variable {unset[0]} is not set (targets.{target.name}.headers."
                f"{name} references it as ${{{unset[0]}}}); export it",
            )
    return HttpClient.for_target(target, base_url, run)


@dataclass(frozen=True, slots=True)
class HttpProvider:
    """``provider: http``; see the module docstring."""

    name: str = "http"
    config_keys: tuple[str, ...] = (
        "method",
        "body",
        "output_path",
        "usage_paths",
        "error_path",
        "stream_path",
        "stream_done",
    )
    default_key_env: str | None = None
    default_base_url: str | None = None

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        extra = target.extra
        if not target.base_url:
            return Problem(
                "an http target needs base_url: the endpoint's whole URL",
                hint="e.g. base_url: https://llm.internal.example/v2/generate",
            )
        if extra.get("method", "POST") != "GET" and "body" not in extra:
            return Problem(
                f"an http target sent with {extra.get('method', 'POST')} needs a body template",
                hint='e.g. body: {input: "{{prompt}}", max_tokens: 300}',
            )
        needed = "stream_path" if target.stream else "output_path"
        if needed not in extra:
            return Problem(
                f"an http target {'that streams ' if target.stream else ''}needs {needed}",
                hint="a selector of the text in the response, e.g. choices.0.message.content",
            )
        for key in ("output_path", "error_path", "stream_path"):
            problem = _selector_problem(extra.get(key), key)
            if problem is not None:
                return problem
        for path in (extra.get("usage_paths") or {}).values():
            problem = _selector_problem(path, "usage_paths")
            if problem is not None:
                return problem
        unknown = template_problems(extra.get("body"))
        if unknown:
            return Problem(
                f"body: unknown placeholder {{{{{unknown[0]}}}}}"
                + did_you_mean_hint(unknown[0], PLACEHOLDERS),
                key="body",
                hint="placeholders: " + ", ".join(PLACEHOLDERS) + ", params.NAME, vars.NAME",
            )
        return None

    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> AbstractContextManager[HttpEndpoints]:
        urls = {name: t.base_url or "" for name, t in targets.items()}
        return nullcontext(HttpEndpoints(urls, context.run, make_client, embeddings=False))


def _selector_problem(text: Any, key: str) -> Problem | None:
    if text is None:
        return None
    try:
        parse_selector(str(text))
    except ValueError as exc:
        return Problem(str(exc), key=key)
    return None


PROVIDER = HttpProvider()
