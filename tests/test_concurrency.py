"""``--llmguard-concurrency N`` really puts N calls in flight, and a call waiting for a
pooled connection is not charged that wait against its timeout (issue #16)."""

from __future__ import annotations

import asyncio
import time

import pytest

from pytest_llmguard.config import RetryPolicy, RunConfig, TargetConfig
from pytest_llmguard.records import Case, Message
from pytest_llmguard.runner import CallUnit, Engine
from pytest_llmguard.targets.openai import OpenAIClient
from tests.conftest import SimLog
from tests.test_plugin import write_project

LATENCY = {"x-sim-latency-ms": "300"}


def _in_flight(log: list[dict[str, object]]) -> int:
    """The most chat requests the simulator was serving at once."""
    spans = [
        (float(r["t"]), float(r["t"]) + float(r["latency_ms"]) / 1000.0)  # type: ignore[arg-type]
        for r in log
        if r["path"] == "/v1/chat/completions"
    ]
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_a_pool_smaller_than_the_engine_waits_outside_the_attempt(
    sim_url: str, sim_log: SimLog
) -> None:
    target = TargetConfig("t", "openai", "sim-stable", headers=LATENCY)
    client = OpenAIClient(target, base_url=sim_url, api_key=None, timeout_s=0.5, max_connections=1)
    run = RunConfig(concurrency=4, timeout_s=0.5, retries=RetryPolicy(max=0))
    cases = [Case("s", "s.yaml", f"c{i}", (Message("user", f"q{i}"),)) for i in range(4)]
    started = time.perf_counter()
    observations = asyncio.run(Engine({"t": client}, run).run([CallUnit(c, "t") for c in cases]))
    took = time.perf_counter() - started
    # Before: four calls shared one connection inside their 0.5 s timeouts; the third
    # and fourth timed out in the pool without ever being sent.
    assert [o.error for o in observations] == [None] * 4
    assert all(o.latency_ms is not None and o.latency_ms < 450 for o in observations)
    assert len(sim_log.requests()) == 4 and _in_flight(sim_log.requests()) == 1
    assert took >= 1.1  # one at a time, as the pool allows


@pytest.mark.parametrize(("flag", "in_flight"), [([], 1), (["--llmguard-concurrency", "4"], 4)])
def test_the_concurrency_flag_sets_how_many_calls_are_in_flight(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, flag: list[str], in_flight: int
) -> None:
    cases = "".join(f'  - id: q{i}\n    prompt: "Question {i}?"\n' for i in range(8))
    write_project(
        pytester,
        sim_url,
        targets=(
            f'\n  only: {{provider: openai, base_url: "{sim_url}", model: sim-stable,'
            f' headers: {{x-sim-latency-ms: "300"}}}}\n'
        ),
        golden=f"name: many\ncases:\n{cases}",
    )
    config = pytester.path / "llmguard.yaml"
    config.write_text(config.read_text().replace("concurrency: 8", "concurrency: 1"))
    result = pytester.runpytest("--llmguard", "-p", "no:randomly", *flag)
    result.assert_outcomes(passed=8)
    log = sim_log.requests()
    assert len(log) == 8
    assert _in_flight(log) == in_flight
