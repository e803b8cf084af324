"""The engine: issue every planned call concurrently, with cache, retries, limits and spend control.

pytest runs items one after another, so calls are made here, ahead of the items that
assert on them: a fixed pool of ``run.concurrency`` worker coroutines pulls call units
from one queue. Latency is timed around the request itself, after a slot, a rate-limit
token and a connection are available, so waiting never inflates what is reported.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence

from pytest_llmguard.cache import ResponseCache, request_key
from pytest_llmguard.config import Price, RunConfig
from pytest_llmguard.faults import classify_exception
from pytest_llmguard.planning import CallUnit, fair_order, plan_calls
from pytest_llmguard.pricing import cost_usd, find_price
from pytest_llmguard.records import Case, ErrorRecord, Observation
from pytest_llmguard.retry import backoff_s, should_retry
from pytest_llmguard.targets.base import Completion, TargetClient

__all__ = [
    "CallUnit",  # planning's, re-exported: the engine runs them
    "Engine",
    "RateLimiter",
    "SpendGuard",
    "Throttle",
    "estimate_tokens",
    "estimated_tokens",
    "fair_order",
    "observe_calls",
    "plan_calls",
]


class RateLimiter:
    """Requests- and tokens-per-minute limits as a pair of token buckets.

    Under xdist each worker gets an equal share of the run's limits, so the whole run
    holds the configured rate without any cross-process coordination.
    """

    def __init__(self, rpm: float | None, tpm: float | None, share: float = 1.0) -> None:
        self._rpm = rpm * share if rpm else None
        self._tpm = tpm * share if tpm else None
        self._req_tokens = 1.0
        # A leaky bucket in debt form: a request may go when the balance is >= 0 and takes
        # its tokens, leaving a debt that refills at tpm/60 per second. Over any window T
        # the run sends at most one request's tokens + tpm*T/60: no minute-sized burst.
        self._tok_tokens = 0.0
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self._rpm or self._tpm)

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed = now - self._last
        self._last = now
        if self._rpm:
            self._req_tokens = min(1.0, self._req_tokens + elapsed * self._rpm / 60.0)
        if self._tpm:
            self._tok_tokens = min(0.0, self._tok_tokens + elapsed * self._tpm / 60.0)

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of about ``tokens`` tokens may be sent."""
        if not self.active:
            return
        async with self._lock:  # FIFO: callers are served in arrival order
            while True:
                self._refill()
                waits = []
                if self._rpm and self._req_tokens < 1.0:
                    waits.append((1.0 - self._req_tokens) * 60.0 / self._rpm)
                if self._tpm and self._tok_tokens < 0.0:
                    waits.append(-self._tok_tokens * 60.0 / self._tpm)
                if not waits:
                    if self._rpm:
                        self._req_tokens -= 1.0
                    if self._tpm:
                        self._tok_tokens -= float(tokens)
                    return
                await asyncio.sleep(max(waits))


def _slot_limit(client: TargetClient, concurrency: int) -> int | None:
    """How many calls to this client may be in flight, when fewer than ``concurrency``.

    A target's own ``concurrency`` always counts. A client whose connection pool is
    smaller than the engine's concurrency (``max_connections``) gets a slot per
    connection too: a call then waits for its connection *before* its attempt and its
    clock start, never inside them (a pool wait timed out calls that were never sent).
    """
    own = client.config.concurrency
    pool = getattr(client, "max_connections", None)
    if isinstance(pool, int) and pool > 0 and pool < (own or concurrency):
        return pool
    return own


CHARS_PER_TOKEN = 4  # English text with OpenAI-style BPE tokenizers: ~4 characters a token
MESSAGE_OVERHEAD_TOKENS = 4  # the chat template's role markers around each message


def estimate_tokens(case: Case, output: str) -> tuple[int, int]:
    """(input, output) tokens of a response whose provider reported no usage.

    Four characters a token, plus four tokens a message for the chat template: on the
    real-model tier (Gemma 3 270M, llama.cpp) within about 15% of the server's own
    counts. Such observations are marked ``tokens_estimated``.
    """
    chars = sum(len(m.content) for m in case.messages)
    prompt = -(-chars // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * len(case.messages)
    return prompt, -(-len(output) // CHARS_PER_TOKEN)


def estimated_tokens(case: Case) -> int:
    """A cheap upper-ish estimate of a request's tokens, for the tokens-per-minute limit."""
    chars = sum(len(m.content) for m in case.messages)
    max_tokens = case.params.get("max_tokens") or case.params.get("max_completion_tokens") or 256
    return chars // 4 + int(max_tokens)


class Throttle:
    """Adaptive backoff on 429s for a whole target, not just the call that got one.

    A 429 pauses every new attempt to that target until its Retry-After has passed (or,
    without one, for a pause that doubles with each 429 in a row, up to 30 s, and relaxes
    again once a pause is over). Calls already in flight are left alone.
    """

    FIRST_PAUSE_S = 0.5
    MAX_PAUSE_S = 30.0

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._pause: dict[str, float] = {}
        self.pauses = 0

    def rate_limited(self, target: str, retry_after_s: float | None) -> None:
        now = time.monotonic()
        if retry_after_s is not None:
            pause = min(retry_after_s, self.MAX_PAUSE_S)
        else:
            pause = min(self._pause.get(target, self.FIRST_PAUSE_S / 2) * 2, self.MAX_PAUSE_S)
        self._pause[target] = pause
        if now + pause > self._until.get(target, 0.0):
            self._until[target] = now + pause
            self.pauses += 1

    async def wait(self, target: str) -> None:
        delay = self._until.get(target, 0.0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif target in self._pause:  # the pause is over: relax for the next 429
            self._pause[target] = max(self.FIRST_PAUSE_S / 2, self._pause[target] / 2)


class SpendGuard:
    """Stops issuing new calls once the estimated spend would pass ``run.max_cost_usd``."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._calls = 0
        self.exhausted = False

    def allows_next(self) -> bool:
        if self.limit_usd is None:
            return True
        average = self.spent_usd / self._calls if self._calls else 0.0
        if self.spent_usd + average > self.limit_usd:
            self.exhausted = True
        return not self.exhausted

    def record(self, cost: float | None) -> None:
        if cost is not None:
            self.spent_usd += cost
            self._calls += 1


class Engine:
    """Runs call units against target clients; usable with or without pytest."""

    def __init__(
        self,
        clients: Mapping[str, TargetClient],
        run: RunConfig,
        *,
        cache: ResponseCache | None = None,
        pricing: Mapping[str, Price] | None = None,
        rate_share: float = 1.0,
        seed: int = 0,
    ) -> None:
        self._clients = clients
        self._run = run
        self._cache = cache
        self._pricing = pricing or {}
        self._limiter = RateLimiter(run.rpm, run.tpm, rate_share)
        self.spend = SpendGuard(run.max_cost_usd)
        self._throttle = Throttle()
        self._rng = random.Random(seed)
        self._target_slots = {
            name: asyncio.Semaphore(limit)
            for name, c in clients.items()
            if (limit := _slot_limit(c, run.concurrency))
        }

    async def run(
        self,
        units: Sequence[CallUnit],
        on_observation: Callable[[CallUnit, Observation], None] | None = None,
    ) -> list[Observation]:
        """Make every call; return observations in the order of ``units``."""
        results: list[Observation | None] = [None] * len(units)
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(units):
                index = next_index
                next_index += 1
                unit = units[index]
                observation = await self._observe(unit)
                results[index] = observation
                if on_observation is not None:
                    on_observation(unit, observation)
                # Let replies that arrived in the same burst take their end timestamps
                # before this worker spends CPU sending its next request; otherwise that
                # queueing is reported as model latency (median at 100 ms, 64 in flight:
                # 114 -> 108.5 ms here).
                await asyncio.sleep(0)

        n_workers = max(1, min(self._run.concurrency, len(units)))
        try:
            await asyncio.gather(*(worker() for _ in range(n_workers)))
        finally:
            for client in self._clients.values():
                await client.aclose()
        return [r for r in results if r is not None]

    async def _observe(self, unit: CallUnit) -> Observation:
        client = self._clients[unit.target]
        key = None
        if self._cache is not None and self._cache.mode != "off":
            key = request_key(client.request_identity(unit.case), unit.repeat_index)
            if self._cache.reads:
                hit = self._cache.get(
                    key, case_key=unit.case.key, target=unit.target, repeat_index=unit.repeat_index
                )
                if hit is not None:
                    return hit
                if self._cache.mode == "replay":
                    return self._failed(
                        unit,
                        ErrorRecord(
                            "cache_miss",
                            f"no cached response in {self._cache.directory} and cache mode is "
                            "'replay' (offline): run once with --llmguard-cache=record",
                        ),
                        attempts=0,
                    )
        unavailable = getattr(client, "unavailable", None)  # e.g. its API key is not set
        if isinstance(unavailable, str):
            return self._failed(unit, ErrorRecord("client_error", unavailable), attempts=0)
        if not self.spend.allows_next():
            return self._failed(
                unit,
                ErrorRecord(
                    "budget_exhausted",
                    f"not called: run.max_cost_usd={self.spend.limit_usd} would be exceeded "
                    f"(spent ${self.spend.spent_usd:.4f})",
                ),
                attempts=0,
            )
        observation = await self._call_with_retries(unit, client)
        self.spend.record(observation.cost_usd)
        if key is not None and self._cache is not None and self._cache.writes:
            self._cache.put(key, observation, [m.content for m in unit.case.messages])
        return observation

    async def _call_with_retries(self, unit: CallUnit, client: TargetClient) -> Observation:
        policy = self._run.retries
        timeout_s = client.config.timeout_s or self._run.timeout_s
        slot = self._target_slots.get(unit.target)
        prepare = getattr(client, "prepare", None)  # clients written before it existed
        if prepare is not None:
            prepare()  # before the rate limiter grants a slot and the clock starts
        attempts = 0
        started_at = time.time()
        while True:
            attempts += 1
            await self._throttle.wait(unit.target)
            await self._limiter.acquire(estimated_tokens(unit.case))
            if slot is not None:
                await slot.acquire()
            t0 = time.perf_counter()
            try:
                # A hard bound on top of the client's own timeout: no wait is unbounded.
                async with asyncio.timeout(timeout_s + 1.0):
                    completion = await client.complete(unit.case)
            except Exception as exc:  # every fault becomes a classified record
                fault = classify_exception(exc)
            else:
                try:
                    return self._succeeded(unit, client, completion, t0, attempts, started_at)
                except Exception as exc:  # a completion that cannot be priced or recorded
                    fault = classify_exception(exc)
            finally:
                if slot is not None:
                    slot.release()
            if fault.record.cls == "rate_limit":
                self._throttle.rate_limited(unit.target, fault.retry_after_s)
            if not should_retry(policy, fault.record, attempts):
                return self._failed(unit, fault.record, attempts, started_at)
            await asyncio.sleep(backoff_s(policy, attempts, fault.retry_after_s, self._rng))

    def _succeeded(
        self,
        unit: CallUnit,
        client: TargetClient,
        completion: Completion,
        t0: float,
        attempts: int,
        started_at: float,
    ) -> Observation:
        """The observation of a successful attempt, priced (raises on an unusable one)."""
        latency_ms = completion.latency_ms
        if latency_ms is None:
            latency_ms = (time.perf_counter() - t0) * 1000.0
        input_tokens, output_tokens = completion.input_tokens, completion.output_tokens
        unreported = input_tokens is None or output_tokens is None
        if unreported:  # no usage: estimate rather than leave budgets with no data
            guess = estimate_tokens(unit.case, completion.output)
            input_tokens = guess[0] if input_tokens is None else input_tokens
            output_tokens = guess[1] if output_tokens is None else output_tokens
        cost = completion.cost_usd  # a provider (a python function) may say what it cost
        if cost is None:
            price = find_price(client.config.model, self._pricing) or find_price(
                completion.model, self._pricing
            )
            cost = cost_usd(
                price,
                input_tokens,
                output_tokens,
                completion.cached_tokens,
                completion.cache_write_tokens,
            )
        return Observation(
            case_key=unit.case.key,
            target=unit.target,
            repeat_index=unit.repeat_index,
            model=completion.model,
            output=completion.output,
            latency_ms=latency_ms,
            ttft_ms=completion.ttft_ms,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=completion.cached_tokens,
            reasoning_tokens=completion.reasoning_tokens,
            cost_usd=cost,
            attempts=attempts,
            started_at=started_at,
            finish_reason=completion.finish_reason,
            tokens_estimated=unreported,
            cache_write_tokens=completion.cache_write_tokens,
        )

    def _failed(
        self, unit: CallUnit, error: ErrorRecord, attempts: int, started_at: float | None = None
    ) -> Observation:
        return Observation(
            case_key=unit.case.key,
            target=unit.target,
            repeat_index=unit.repeat_index,
            model=self._clients[unit.target].config.model,
            output=None,
            latency_ms=None,
            attempts=attempts,
            error=error,
            started_at=started_at if started_at is not None else time.time(),
        )


def observe_calls(
    engine: Engine,
    units: Sequence[CallUnit],
    on_observation: Callable[[CallUnit, Observation], None] | None = None,
) -> list[Observation]:
    """Run the engine to completion from synchronous code (pytest hooks, the CLI)."""
    return asyncio.run(engine.run(units, on_observation))
