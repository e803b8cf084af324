"""run.rpm and run.tpm hold for the whole run under xdist, measured by the simulator.

The engine gives each of the N xdist workers 1/N of each limit; rpm is run with ``-n 4``,
tpm in one process (the per-worker share is the same RateLimiter code for both, and an
xdist start-up costs seconds). What a provider sees is
the simulator's request log: ``t`` (monotonic seconds at arrival) and the tokens of each
request. A limit holds when no window of W seconds carries more than ``limit * W / 60``
plus a small burst: one request per worker (each worker may start with one request's
worth in hand). Windows from 0.5 s up to the whole run are checked, so both a burst at
the start and a slow creep above the rate would be caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ANSWERS, SimLog
from tests.reliability.project import Project

N_CASES = 24
RPM = 600  # 10 requests per second for the whole run: 24 calls take >= 2 s
# The limiter counts a request as prompt characters / 4 + max_tokens (what a provider
# reserves); the simulator's answers to these prompts are far shorter than max_tokens,
# so the tokens it counts are below the limiter's estimate.
MAX_TOKENS = 50
TPM = 24_000  # 400 tokens per second


@dataclass(frozen=True)
class Request:
    t: float
    tokens: int


def worst_excess(requests: Sequence[Request], per_minute: float, burst: float, *, by: str) -> str:
    """The worst window (as text) whose requests or tokens exceed the limit plus burst."""
    times = sorted(requests, key=lambda r: r.t)
    worst = ""
    worst_over = 0.0
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            span = times[j].t - first.t
            window = times[i : j + 1]
            used = float(len(window)) if by == "requests" else float(sum(r.tokens for r in window))
            allowed = per_minute * max(span, 0.5) / 60.0 + burst
            if used - allowed > worst_over:
                worst_over = used - allowed
                worst = (
                    f"{used:.0f} {by} in {span:.2f} s (from request {i} to {j}); "
                    f"allowed {allowed:.0f} = {per_minute:g}/min x {max(span, 0.5):.2f} s "
                    f"+ burst {burst:g}"
                )
    return worst


def run_limited(
    project: Project, sim_url: str, limit: dict[str, Any], workers: int
) -> list[Request]:
    prompts = list(ANSWERS)
    project.config(
        {"api": {"provider": "openai", "base_url": sim_url, "model": "sim-stable"}},
        run={"concurrency": 16, "timeout_s": 10, **limit},
    )
    project.golden(
        "limited",
        [{"id": f"c{i:02d}", "prompt": prompts[i % len(prompts)]} for i in range(N_CASES)],
        header=f"params: {{max_tokens: {MAX_TOKENS}}}",
    )
    log = SimLog(sim_url)
    log.reset()
    xdist = ["-n", str(workers)] if workers > 1 else []
    run = project.run(*xdist, "-p", "no:cacheprovider", "-q")
    assert run.ret == 0, run.output
    rows = log.requests()
    assert len(rows) == N_CASES, "every case called exactly once"
    return [
        Request(float(str(r["t"])), int(str(r["prompt_tokens"])) + int(str(r["completion_tokens"])))
        for r in rows
    ]


def test_rpm_holds_across_four_workers(
    tmp_path_factory: pytest.TempPathFactory, sim_url: str
) -> None:
    requests = run_limited(Project(tmp_path_factory.mktemp("rpm")), sim_url, {"rpm": RPM}, 4)
    excess = worst_excess(requests, RPM, burst=4, by="requests")
    assert not excess, excess


def test_tpm_holds(tmp_path_factory: pytest.TempPathFactory, sim_url: str) -> None:
    requests = run_limited(Project(tmp_path_factory.mktemp("tpm")), sim_url, {"tpm": TPM}, 1)
    biggest = max(r.tokens for r in requests)
    excess = worst_excess(requests, TPM, burst=biggest, by="tokens")
    assert not excess, excess
