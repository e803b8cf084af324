"""``provider: python``: gate your own code: ``module:function`` is called with each case.

The function takes the :class:`~pytest_llmguard.records.Case` (``case.prompt``,
``case.messages``, ``case.system``, ``case.params``, ``case.vars``) and the target's
``kwargs`` as keyword arguments (string values may name environment variables as
``${NAME}``). It is imported from the rootdir or anything on ``sys.path``, once per
process. An ``async def`` function is awaited on the engine's event loop; any other
runs in a thread of its own (a daemon: a function that never returns cannot keep the
run from ending, which a ``ThreadPoolExecutor``, joined at exit, would), at most the
target's concurrency at once, like any target's calls.

It returns the output text, or a structured result: a mapping with ``output`` and
optionally ``model``, ``input_tokens``, ``output_tokens``, ``cached_tokens``,
``cache_write_tokens``, ``reasoning_tokens``, ``usage`` (a mapping of those counts, or
OpenAI's ``prompt_tokens``/``completion_tokens``), ``cost_usd`` (else the tokens are
priced by the target's model), ``latency_ms`` (else the call is timed), ``ttft_ms``,
``finish_reason``; or a :class:`~pytest_llmguard.targets.base.Completion`.

An exception is classified: the types mapped under the target's ``errors``
(``{"myapp.errors.RateLimited": rate_limit}``, first match in the order written), then
``TimeoutError`` as ``timeout``, everything else ``client_error`` with its message. An
exception's ``status_code`` (or ``status``) and ``retry_after`` (seconds) attributes are
kept, so a mapped rate limit is retried after its Retry-After. ``run.timeout_s`` bounds
each call (``timeout``). Retries, rate limits, the cache (whose key includes the
function's import path and ``kwargs``) and the spend limit apply as to any target: the
calls go through the same engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeGuard, cast

from pytest_llmguard.config import RunConfig, TargetConfig
from pytest_llmguard.faults import CallFault, scrub
from pytest_llmguard.records import ERROR_CLASSES, Case, ErrorClass
from pytest_llmguard.targets.base import Completion, TargetClient
from pytest_llmguard.targets.credentials import MissingCredentials, expand_env
from pytest_llmguard.targets.embeddings import EmbeddingClient
from pytest_llmguard.targets.registry import Problem, ProviderContext

_COUNTS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
_OPENAI_COUNTS = {"prompt_tokens": "input_tokens", "completion_tokens": "output_tokens"}
_NUMBERS = ("cost_usd", "latency_ms", "ttft_ms")
# What an exception may be mapped to: not the engine's own classes.
MAPPABLE_CLASSES = tuple(c for c in ERROR_CLASSES if c not in ("cache_miss", "budget_exhausted"))
RESULT_KEYS = ("output", "model", "usage", "finish_reason", *_COUNTS, *_NUMBERS)
ErrorMap = tuple[tuple[type[BaseException], ErrorClass], ...]


@dataclass(frozen=True, slots=True)
class Loaded:
    """A python target's function and error types, imported; or why they could not be."""

    function: Callable[..., Any] | None
    errors: ErrorMap = ()
    kwargs: Mapping[str, Any] | None = None
    problem: str | None = None


def import_object(path: str, rootdir: str) -> Any:
    """``module:attr.attr`` or ``package.module.Attr`` imported (the rootdir importable)."""
    if rootdir and rootdir not in sys.path:
        sys.path.append(rootdir)  # after the rest: the project's modules shadow nothing
    if ":" in path:
        module_name, _, attrs = path.partition(":")
        obj: Any = importlib.import_module(module_name)
    else:
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            attrs = ".".join(parts[cut:])
            break
        else:
            raise ModuleNotFoundError(f"no module in {path!r}")
    for attr in attrs.split("."):
        obj = getattr(obj, attr)
    return obj


def load_target(target: TargetConfig, rootdir: str) -> Loaded:
    """Import ``target``'s function and mapped exception types; expand its ``kwargs``."""
    spec = str(target.extra.get("function"))
    where = f"targets.{target.name}"
    try:
        function = import_object(spec, rootdir)
    except Exception as exc:  # whatever importing user code raises, say which target
        return Loaded(None, problem=f"{where}.function: cannot import {spec}: {_describe(exc)}")
    if not callable(function):
        return Loaded(None, problem=f"{where}.function: {spec} is not callable")
    errors: list[tuple[type[BaseException], ErrorClass]] = []
    for name, cls in (target.extra.get("errors") or {}).items():
        try:
            kind = import_object(name, rootdir)
        except Exception as exc:
            return Loaded(None, problem=f"{where}.errors: cannot import {name}: {_describe(exc)}")
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            return Loaded(None, problem=f"{where}.errors: {name} is not an exception type")
        errors.append((kind, cast(ErrorClass, cls)))
    kwargs: dict[str, Any] = {}
    for key, value in (target.extra.get("kwargs") or {}).items():
        if isinstance(value, str):
            value, unset = expand_env(value)
            if unset:
                message = (
                    f"environment variable {unset[0]} is not set ({where}.kwargs.{key} "
                    f"references it as ${{{unset[0]}}}); export it"
                )
                return Loaded(None, problem=message)
        kwargs[key] = value
    return Loaded(function, tuple(errors), kwargs)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PythonClient:
    """Calls the target's function; see the module docstring."""

    def __init__(self, config: TargetConfig, loaded: Loaded, timeout_s: float) -> None:
        assert loaded.function is not None
        self._config = config
        self._function = loaded.function
        self._errors = loaded.errors
        self._kwargs = dict(loaded.kwargs or {})
        self._timeout_s = timeout_s
        self._is_async = inspect.iscoroutinefunction(loaded.function)

    @property
    def config(self) -> TargetConfig:
        return self._config

    def request_identity(self, case: Case) -> dict[str, Any]:
        return {
            "provider": self._config.provider,
            "function": self._config.extra.get("function"),
            "kwargs": self._config.extra.get("kwargs") or {},  # as written: ${NAME}, not values
            "model": self._config.model,
            "case": {
                "messages": [m.to_dict() for m in case.messages],
                "params": dict(case.params),
                "vars": dict(case.vars),
            },
        }

    def prepare(self) -> None:
        pass

    async def aclose(self) -> None:
        return None

    async def complete(self, case: Case) -> Completion:
        deadline = asyncio.timeout(self._timeout_s)
        try:
            async with deadline:
                if self._is_async:
                    t0 = time.perf_counter()
                    result = await self._function(case, **self._kwargs)
                    elapsed_ms = (time.perf_counter() - t0) * 1000.0
                else:
                    result, elapsed_ms = await self._in_thread(case)
        except CallFault:
            raise
        except Exception as exc:  # the function's own: classified, never escapes
            if deadline.expired():
                function = self._config.extra.get("function")
                message = f"{function} did not return within {self._timeout_s:g} s"
                raise CallFault("timeout", message) from None
            raise self._fault(exc) from None
        return to_completion(result, self._config.model, elapsed_ms)

    async def _in_thread(self, case: Case) -> tuple[Any, float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, float]] = loop.create_future()

        def settle(outcome: tuple[Any, float] | BaseException) -> None:
            if future.done():
                return  # timed out meanwhile
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        def run() -> None:
            t0 = time.perf_counter()
            outcome: tuple[Any, float] | BaseException
            try:
                value = self._function(case, **self._kwargs)
                outcome = (value, (time.perf_counter() - t0) * 1000.0)
            except BaseException as exc:  # handed to the event loop, classified there
                outcome = exc
            # RuntimeError: the run is over and its loop closed; nobody waits for this call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, outcome)

        threading.Thread(target=run, name=f"llmguard-{self._config.name}", daemon=True).start()
        result, elapsed_ms = await future
        if inspect.isawaitable(result):  # a plain function that returned a coroutine
            t0 = time.perf_counter()
            result = await result
            elapsed_ms += (time.perf_counter() - t0) * 1000.0
        return result, elapsed_ms

    def _fault(self, exc: BaseException) -> CallFault:
        cls: ErrorClass = "client_error"
        for kind, mapped in self._errors:
            if isinstance(exc, kind):
                cls = mapped
                break
        else:
            if isinstance(exc, TimeoutError):
                cls = "timeout"
        status = getattr(exc, "status_code", None)
        status = getattr(exc, "status", None) if status is None else status
        retry_after = getattr(exc, "retry_after", None)
        return CallFault(
            cls,
            scrub(f"{type(exc).__name__}: {exc}"),
            status if isinstance(status, int) and not isinstance(status, bool) else None,
            float(retry_after) if _is_number(retry_after) else None,
        )


def to_completion(result: Any, model: str, elapsed_ms: float) -> Completion:
    """What the function returned, as a Completion (CallFault(invalid_response) if odd)."""
    if isinstance(result, str):
        return Completion(output=result, model=model, latency_ms=elapsed_ms)
    if isinstance(result, Completion):
        latency = elapsed_ms if result.latency_ms is None else result.latency_ms
        return replace(result, latency_ms=latency)
    if not isinstance(result, Mapping):
        raise CallFault(
            "invalid_response",
            f"the function returned {type(result).__name__}; expected text, a mapping with "
            "'output', or a Completion",
        )
    unknown = sorted(str(k) for k in result if k not in RESULT_KEYS)
    if unknown:
        raise CallFault(
            "invalid_response",
            f"the result has unknown keys {', '.join(unknown)}; allowed: {', '.join(RESULT_KEYS)}",
        )
    output = result.get("output")
    if not isinstance(output, str):
        raise CallFault("invalid_response", "the result's 'output' is not text")
    fields: dict[str, Any] = {"latency_ms": elapsed_ms}
    usage = result.get("usage") or {}
    if not isinstance(usage, Mapping):
        raise CallFault("invalid_response", "the result's 'usage' is not a mapping")
    sources = [(k, _OPENAI_COUNTS.get(k, k), v) for k, v in usage.items()]
    sources += [(k, k, result[k]) for k in _COUNTS if k in result]
    for key, field, value in sources:
        if field not in _COUNTS or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CallFault("invalid_response", f"the result's {key} is not a count: {value!r}")
        fields[field] = value
    for key in _NUMBERS:
        value = result.get(key)
        if value is None:
            continue
        if not _is_number(value) or value < 0:
            raise CallFault("invalid_response", f"the result's {key} is not a number >= 0")
        fields[key] = float(value)
    finish = result.get("finish_reason")
    return Completion(
        output=output,
        model=str(result.get("model") or model),
        finish_reason=finish if isinstance(finish, str) else None,
        **fields,
    )


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, slots=True)
class PythonEndpoints:
    """The loaded functions of a run's python targets."""

    loaded: Mapping[str, Loaded]
    run: RunConfig

    def client(self, target: TargetConfig) -> TargetClient:
        loaded = self.loaded[target.name]
        if loaded.problem is not None:
            return MissingCredentials(target, loaded.problem)
        return PythonClient(target, loaded, target.timeout_s or self.run.timeout_s)

    def embedder(self, target: TargetConfig, model: str) -> EmbeddingClient | None:
        return None


@dataclass(frozen=True, slots=True)
class PythonProvider:
    """``provider: python``; see the module docstring."""

    name: str = "python"
    config_keys: tuple[str, ...] = ("function", "kwargs", "errors")
    default_key_env: str | None = None
    default_base_url: str | None = None

    def check(self, target: TargetConfig, sections: Mapping[str, Any]) -> Problem | None:
        if not target.extra.get("function"):
            return Problem(
                "a python target needs function: the callable to gate, as module:function",
                hint="e.g. function: myapp.bot:answer (called with each case)",
            )
        for name, cls in (target.extra.get("errors") or {}).items():
            if cls not in MAPPABLE_CLASSES:
                return Problem(
                    f"errors.{name}: {cls!r} is not an error class",
                    key="errors",
                    hint="one of: " + ", ".join(MAPPABLE_CLASSES),
                )
        return None

    @contextmanager
    def open(
        self, targets: Mapping[str, TargetConfig], context: ProviderContext
    ) -> Iterator[PythonEndpoints]:
        loaded = {name: load_target(t, context.rootdir) for name, t in targets.items()}
        yield PythonEndpoints(loaded, context.run)


PROVIDER = PythonProvider()
