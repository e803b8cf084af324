"""Functions the python provider's tests gate (``tests.python_targets:NAME``).

They record what happened to them in module state (calls, threads, concurrency), which
the tests read back; :func:`reset` clears it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, NoReturn

from pytest_llmguard.records import Case
from pytest_llmguard.targets.base import Completion

calls: list[dict[str, Any]] = []
_lock = threading.Lock()
_active = 0
peak = 0


def reset() -> None:
    global _active, peak
    calls.clear()
    _active = peak = 0


def _enter(case: Case, **details: Any) -> None:
    global _active, peak
    with _lock:
        _active += 1
        peak = max(peak, _active)
        calls.append(
            {
                "case": case.id,
                "thread": threading.current_thread().name,
                "t": time.monotonic(),
                **details,
            }
        )


def _leave() -> None:
    global _active
    with _lock:
        _active -= 1


class RateLimited(Exception):
    """An application's own rate-limit error, with the upstream's Retry-After."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"slow down for {retry_after} s")
        self.retry_after = retry_after
        self.status_code = 429


class Busy(RateLimited):
    """A subclass: mapped through its base class."""


def answer(case: Case, *, prefix: str = "", sleep_s: float = 0.0) -> str:
    _enter(case, prefix=prefix)
    try:
        time.sleep(sleep_s)
        return f"{prefix}{case.prompt} [{case.vars.get('product', '-')}]"
    finally:
        _leave()


async def answer_async(case: Case, *, sleep_s: float = 0.0) -> str:
    _enter(case)
    try:
        await asyncio.sleep(sleep_s)
        return case.prompt.upper()
    finally:
        _leave()


def structured(case: Case) -> dict[str, Any]:
    _enter(case)
    _leave()
    return {
        "output": "structured answer",
        "model": "gpt-4o-mini-2024-07-18",
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100},
        "latency_ms": 12.5,
        "finish_reason": "refusal",
    }


def priced(case: Case) -> dict[str, Any]:
    _enter(case)
    _leave()
    return {"output": "costly", "cost_usd": 1.0, "input_tokens": 5, "output_tokens": 1}


def completion(case: Case) -> Completion:
    return Completion(output="as a record", model="my-app", output_tokens=2, ttft_ms=3.0)


def returns(case: Case, *, value: Any) -> Any:
    return value


def fails(case: Case, *, kind: str) -> str:
    _enter(case)
    _leave()
    _raise(kind)


def _raise(kind: str) -> NoReturn:
    if kind == "rate_limited":
        raise RateLimited(0.3)
    if kind == "busy":
        raise Busy(0.0)
    if kind == "timeout":
        raise TimeoutError("upstream took too long")
    if kind == "value":
        raise ValueError("no answer for sk-live-0123456789abcdefghij")
    raise KeyError(kind)


def fails_once(case: Case, *, kind: str = "rate_limited") -> str:
    first = not any(c["case"] == case.id for c in calls)
    _enter(case)
    _leave()
    if first:
        _raise(kind)
    return "recovered"


def hangs(case: Case, *, seconds: float) -> str:
    time.sleep(seconds)
    return "too late"


async def hangs_async(case: Case, *, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "too late"


NOT_CALLABLE = 42
