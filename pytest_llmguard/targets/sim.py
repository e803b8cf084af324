"""``provider: sim``: start the built-in simulator in-process on a free loopback port.

The simulator is given an answer book built from the golden sets (last user message →
``expected``), so its accurate versions answer the references and its degraded
versions (slower, wordier, drifted, regressed) differ from them in controlled ways.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from pytest_llmguard.config import Config, TargetConfig
from pytest_llmguard.golden import GoldenSet


def answer_book(golden_sets: Sequence[GoldenSet]) -> dict[str, str]:
    """Last user message → reference answer, for every case that has one."""
    book: dict[str, str] = {}
    for golden in golden_sets:
        for case in golden.cases:
            users = [m.content for m in case.messages if m.role == "user"]
            if users and case.expected is not None:
                book.setdefault(users[-1], case.expected)
    return book


def simulator_options(sim: Mapping[str, Any]) -> dict[str, Any]:
    """Server options from the config's ``sim`` section (models are loaded separately)."""
    options: dict[str, Any] = {}
    for key in ("seed", "noise_sigma", "latency_scale"):
        if key in sim:
            options[key] = sim[key]
    return options


@contextmanager
def running_simulator(
    config: Config,
    targets: Mapping[str, TargetConfig],
    golden_sets: Sequence[GoldenSet],
) -> Iterator[str | None]:
    """Yield the base URL of an in-process simulator when a sim target needs one, else None."""
    if not any(t.provider == "sim" and not t.base_url for t in targets.values()):
        yield None
        return
    from pytest_llmguard.sim.models import load_models
    from pytest_llmguard.sim.server import SimServer

    models = load_models(config.sim)  # reads the section's "models" key itself
    server = SimServer(
        models=models, answers=answer_book(golden_sets), **simulator_options(config.sim)
    )
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop_thread()
