"""Without ``RAG_MODEL_URL``, the built-in simulator is the bot's model.

It is started here, once per process, with the golden set's reference answers as its
answer book (so its accurate versions answer the questions, its degraded ones differ
in controlled ways), and stopped when the run ends.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("RAG_MODEL_URL"):
        return  # a real endpoint, or a simulator started elsewhere (`llmguard sim`)
    from pytest_llmguard.config import load_config
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.sim.provider import answer_book
    from pytest_llmguard.sim.server import SimServer

    cases = [case for s in load_golden_sets(load_config(str(config.rootpath))) for case in s.cases]
    scale = float(os.environ.get("RAG_SIM_LATENCY_SCALE", "0.25"))
    server = SimServer(answers=answer_book(cases), latency_scale=scale, seed=1)
    os.environ["RAG_MODEL_URL"] = server.start_in_thread()

    def stop() -> None:
        server.stop_thread()
        os.environ.pop("RAG_MODEL_URL", None)

    config.add_cleanup(stop)
