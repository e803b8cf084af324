"""Shared simulator fixtures: one threaded server per module, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest

from pytest_llmguard.sim import SimServer

ANSWERS: Mapping[str, str] = {
    "What is the refund window?": (
        "Refunds are accepted within 30 days of delivery. Items must be unused and in"
        " their original packaging. Contact support with your order number 48213."
    ),
    "Give the order as JSON": '{"order_id": 48213, "status": "shipped", "items": ["lamp", "desk"]}',
}


@pytest.fixture(scope="session")
def answers() -> Mapping[str, str]:
    """The answer book every shared simulator is given."""
    return ANSWERS


@pytest.fixture(scope="module")
def sim_server() -> Iterator[SimServer]:
    server = SimServer(answers=ANSWERS, seed=7, latency_scale=0.01)
    with server:
        yield server


@pytest.fixture
def sim(sim_server: SimServer) -> SimServer:
    sim_server.reset()
    return sim_server


@pytest.fixture
def client(sim: SimServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=10.0) as c:
        yield c
