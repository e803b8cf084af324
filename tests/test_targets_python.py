"""The python provider: a function called with each case through the same engine as any
target (concurrency, timeouts, retries, rate limits, cache, spend limit), its results
read, its exceptions classified."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config import RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.faults import CallFault
from pytest_llmguard.records import Case, Message, Observation
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.python import PROVIDER, PythonClient, to_completion
from pytest_llmguard.targets.registry import ProviderContext
from tests import python_targets as app

ROOT = Path(__file__).resolve().parent.parent
POLICY = RetryPolicy(max=2, backoff_base_s=0.01, backoff_max_s=0.05)
MAPPED = {
    "tests.python_targets.RateLimited": "rate_limit",
    "builtins.LookupError": "server_error",
}


def case(i: int = 0, prompt: str = "What is the refund window?") -> Case:
    return Case("s", "s.yaml", f"c{i}", (Message("user", prompt),), vars={"product": "Pro"})


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    app.reset()
    yield
    app.reset()


def target(function: str, **extra: Any) -> TargetConfig:
    concurrency = extra.pop("concurrency", None)
    timeout_s = extra.pop("timeout_s", None)
    return TargetConfig(
        "app",
        "python",
        "app-v1",
        concurrency=concurrency,
        timeout_s=timeout_s,
        extra={"function": f"tests.python_targets:{function}", **extra},
    )


def observe_all(
    t: TargetConfig,
    cases: Sequence[Case],
    *,
    run: RunConfig | None = None,
    cache: ResponseCache | None = None,
    rootdir: str = str(ROOT),
) -> tuple[list[Observation], Engine]:
    run = run or RunConfig(concurrency=8, timeout_s=2.0, retries=POLICY)
    context = ProviderContext(run=run, cases=tuple(cases), sections={}, rootdir=rootdir)
    with PROVIDER.open({"app": t}, context) as endpoints:
        engine = Engine({"app": endpoints.client(t)}, run, cache=cache)
        observations = asyncio.run(engine.run([CallUnit(c, "app") for c in cases]))
    return observations, engine


def observe(t: TargetConfig, **options: Any) -> Observation:
    (obs,), _ = observe_all(t, [case()], **options)
    return obs


# ---- results ---------------------------------------------------------------------------


def test_a_sync_function_runs_in_a_thread_with_its_kwargs_and_is_timed() -> None:
    obs = observe(target("answer", kwargs={"prefix": "A: ", "sleep_s": 0.05}))
    assert obs.error is None, obs.error
    assert obs.output == "A: What is the refund window? [Pro]"
    assert obs.model == "app-v1"
    assert obs.latency_ms is not None and obs.latency_ms >= 50.0
    (call,) = app.calls
    assert call["thread"] != threading.main_thread().name


def test_an_async_function_is_awaited_on_the_loop() -> None:
    obs = observe(target("answer_async", kwargs={"sleep_s": 0.03}))
    assert obs.error is None and obs.output == "WHAT IS THE REFUND WINDOW?"
    assert obs.latency_ms is not None and obs.latency_ms >= 30.0
    assert app.calls[0]["thread"] == threading.main_thread().name


def test_a_structured_result_gives_usage_model_latency_and_finish_reason() -> None:
    obs = observe(target("structured"))
    assert obs.error is None
    assert (obs.output, obs.model, obs.input_tokens, obs.output_tokens) == (
        "structured answer",
        "gpt-4o-mini-2024-07-18",
        1000,
        100,
    )
    assert obs.latency_ms == 12.5  # the function's own measure wins
    assert obs.finish_reason == "refusal"
    # priced by the model the result names (the target's app-v1 has no price)
    assert obs.cost_usd == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6)


def test_a_reported_cost_is_used_as_is() -> None:
    obs = observe(target("priced"))
    assert obs.cost_usd == 1.0


def test_a_completion_record_is_taken_as_is_with_the_call_timed() -> None:
    obs = observe(target("completion"))
    assert (obs.output, obs.model, obs.output_tokens, obs.ttft_ms) == (
        "as a record",
        "my-app",
        2,
        3.0,
    )
    assert obs.latency_ms is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "returned int"),
        (None, "returned NoneType"),
        ({"text": "x"}, "unknown keys text"),
        ({"output": 3}, "'output' is not text"),
        ({"output": "x", "output_tokens": -1}, "output_tokens is not a count"),
        ({"output": "x", "usage": {"prompt_tokens": 1.5}}, "prompt_tokens is not a count"),
        ({"output": "x", "usage": [1]}, "'usage' is not a mapping"),
        ({"output": "x", "cost_usd": float("nan")}, "cost_usd is not a number"),
    ],
)
def test_an_odd_result_is_an_invalid_response(value: Any, message: str) -> None:
    with pytest.raises(CallFault) as info:
        to_completion(value, "m", 1.0)
    assert info.value.record.cls == "invalid_response"
    assert message in info.value.record.message


# ---- exceptions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cls", "status", "attempts"),
    [
        ("rate_limited", "rate_limit", 429, 3),  # mapped, retried
        ("busy", "rate_limit", 429, 3),  # a subclass of a mapped type
        ("timeout", "timeout", None, 3),  # TimeoutError
        ("value", "client_error", None, 1),  # everything else, not retried
        ("other", "server_error", None, 3),  # KeyError is a LookupError: mapped
    ],
)
def test_exceptions_are_classified(kind: str, cls: str, status: int | None, attempts: int) -> None:
    obs = observe(target("fails", kwargs={"kind": kind}, errors=MAPPED))
    assert obs.error is not None
    assert (obs.error.cls, obs.error.status, obs.attempts) == (cls, status, attempts)
    assert obs.output is None and obs.latency_ms is None
    assert len(app.calls) == attempts


def test_an_exception_s_message_is_kept_without_secrets() -> None:
    obs = observe(target("fails", kwargs={"kind": "value"}))
    assert obs.error is not None
    assert obs.error.message == "ValueError: no answer for [REDACTED]"


def test_a_mapped_rate_limit_is_retried_after_its_retry_after() -> None:
    obs = observe(target("fails_once", errors=MAPPED))
    assert obs.error is None and obs.output == "recovered" and obs.attempts == 2
    first, second = app.calls
    assert second["t"] - first["t"] >= 0.28  # RateLimited(0.3).retry_after


@pytest.mark.parametrize("function", ["hangs", "hangs_async"])
def test_a_call_is_bounded_by_the_timeout(function: str) -> None:
    started = time.monotonic()
    run = RunConfig(concurrency=1, timeout_s=0.3, retries=RetryPolicy(max=0))
    obs = observe(target(function, kwargs={"seconds": 5}), run=run)
    assert obs.error is not None and obs.error.cls == "timeout"
    assert "did not return within 0.3 s" in obs.error.message
    assert time.monotonic() - started < 3.0


# ---- the engine's controls -------------------------------------------------------------


def test_the_target_s_concurrency_bounds_calls_in_flight() -> None:
    cases = [case(i) for i in range(6)]
    observations, _ = observe_all(target("answer", concurrency=2, kwargs={"sleep_s": 0.1}), cases)
    assert all(o.error is None for o in observations)
    assert app.peak == 2


def test_calls_run_concurrently_up_to_the_run_s_concurrency() -> None:
    cases = [case(i) for i in range(8)]
    run = RunConfig(concurrency=4, timeout_s=2.0)
    observations, _ = observe_all(target("answer_async", kwargs={"sleep_s": 0.1}), cases, run=run)
    assert all(o.error is None for o in observations)
    assert app.peak == 4


def test_the_rate_limit_spaces_calls() -> None:
    run = RunConfig(concurrency=4, timeout_s=2.0, rpm=300)  # one call every 0.2 s
    observations, _ = observe_all(target("answer"), [case(i) for i in range(3)], run=run)
    assert all(o.error is None for o in observations)
    times = sorted(c["t"] for c in app.calls)
    assert times[1] - times[0] >= 0.17 and times[2] - times[1] >= 0.17


def test_the_spend_limit_stops_calling() -> None:
    run = RunConfig(concurrency=1, timeout_s=2.0, max_cost_usd=2.5)
    observations, engine = observe_all(target("priced"), [case(i) for i in range(5)], run=run)
    errors = [o.error.cls for o in observations if o.error]
    assert len(app.calls) == 2 and errors == ["budget_exhausted"] * 3
    assert engine.spend.spent_usd == 2.0


def test_the_cache_replays_without_calling_and_keys_on_the_function(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    t = target("answer", kwargs={"prefix": "A: "})
    first, _ = observe_all(t, [case()], cache=cache)
    again, _ = observe_all(t, [case()], cache=cache)
    assert len(app.calls) == 1
    assert again[0].cached and again[0].output == first[0].output
    # another function, or other kwargs, is another request
    observe_all(target("answer", kwargs={"prefix": "B: "}), [case()], cache=cache)
    observe_all(target("answer_async"), [case()], cache=cache)
    assert len(app.calls) == 3


def test_the_cache_key_holds_the_import_path_and_kwargs_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_APP_TOKEN", "app-secret-value-123")
    t = target("answer", kwargs={"prefix": "${TEST_APP_TOKEN}"})
    context = ProviderContext(run=RunConfig(), cases=(), sections={}, rootdir=str(ROOT))
    with PROVIDER.open({"app": t}, context) as endpoints:
        client = endpoints.client(t)
        identity = client.request_identity(case())
        (obs,) = asyncio.run(Engine({"app": client}, RunConfig()).run([CallUnit(case(), "app")]))
    assert identity["function"] == "tests.python_targets:answer"
    assert identity["kwargs"] == {"prefix": "${TEST_APP_TOKEN}"}
    assert "app-secret-value-123" not in json.dumps(identity)
    assert obs.output is not None and obs.output.startswith("app-secret-value-123")


# ---- loading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"function": "tests.no_such_module:f"}, "cannot import tests.no_such_module:f"),
        ({"function": "tests.python_targets:nope"}, "AttributeError"),
        ({"function": "tests.python_targets:NOT_CALLABLE"}, "is not callable"),
        ({"errors": {"tests.python_targets.Nope": "timeout"}}, "errors: cannot import"),
        ({"errors": {"tests.python_targets.answer": "timeout"}}, "is not an exception type"),
        ({"kwargs": {"x": "${TEST_UNSET_VARIABLE_XYZ}"}}, "TEST_UNSET_VARIABLE_XYZ is not set"),
    ],
)
def test_a_target_that_cannot_load_fails_its_calls_clearly(
    extra: dict[str, Any], message: str
) -> None:
    t = target("answer")
    t = TargetConfig("app", "python", "app-v1", extra={**t.extra, **extra})
    obs = observe(t)
    assert obs.error is not None and obs.error.cls == "client_error"
    assert message in obs.error.message and "targets.app." in obs.error.message


def test_the_function_is_imported_from_the_rootdir(tmp_path: Path) -> None:
    (tmp_path / "my_gated_app.py").write_text(
        "def reply(case, **kwargs):\n    return 'from the rootdir'\n", encoding="utf-8"
    )
    t = TargetConfig("app", "python", "v", extra={"function": "my_gated_app:reply"})
    obs = observe(t, rootdir=str(tmp_path))
    assert obs.error is None and obs.output == "from the rootdir"


def test_the_provider_checks_function_and_error_classes() -> None:
    assert PROVIDER.check(TargetConfig("a", "python", "v"), {}) is not None
    bad = TargetConfig(
        "a", "python", "v", extra={"function": "m:f", "errors": {"m.E": "cache_miss"}}
    )
    problem = PROVIDER.check(bad, {})
    assert problem is not None and "'cache_miss' is not an error class" in problem.message
    good = TargetConfig("a", "python", "v", extra={"function": "m:f", "errors": {"m.E": "timeout"}})
    assert PROVIDER.check(good, {}) is None


def test_a_python_client_has_no_embeddings() -> None:
    context = ProviderContext(run=RunConfig(), cases=(), sections={}, rootdir=str(ROOT))
    t = target("answer")
    with PROVIDER.open({"app": t}, context) as endpoints:
        assert endpoints.embedder(t, "text-embedding-3-small") is None
        assert isinstance(endpoints.client(t), PythonClient)
