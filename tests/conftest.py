from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

# Import the engine (numpy, aiohttp, rapidfuzz) in the outer process: pytester's in-process
# runs drop the modules first imported inside them, and numpy cannot be imported twice.
# httpx too: a second httpcore (imported after a run dropped the first) makes httpx let
# the first one's exceptions through unmapped (its map is built lazily by `import`).
import httpcore  # noqa: F401
import httpx  # noqa: F401
import pytest

import pytest_llmguard.session  # noqa: F401
from pytest_llmguard.sim.server import SimServer


def _missing_dev_dependencies() -> list[str]:
    missing = []
    for name in ("hypothesis",):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


# `pytest --llmguard` in this repository after the quick start's install (no dev extras)
# collects tests/ too (testpaths): the golden sets must still run, so the project's own
# tests are left out, said in the header, instead of failing on their dev-only imports.
MISSING_DEV = _missing_dev_dependencies()
collect_ignore_glob = ["test_*.py", "*/test_*.py"] if MISSING_DEV else []


def pytest_report_header(config: pytest.Config) -> str | None:
    if not MISSING_DEV:
        return None
    return (
        f"tests/ not collected: the project's own tests need the dev extras "
        f"({', '.join(MISSING_DEV)} missing): pip install -e '.[dev]'"
    )


# The simulator's answer book for the prompts the tests use: accurate versions answer these.
ANSWERS = {
    "How long do I have to ask for a refund?": (
        "You can ask for a refund within 30 days of purchase."
    ),
    "How long does shipping take to Canada?": "Shipping to Canada takes 5 to 7 business days.",
    "How do I reset my password?": "Open Settings, choose Security, then Reset password.",
}


GITHUB_VARIABLES = (
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_EVENT_PATH",
    "GITHUB_API_URL",
    "GITHUB_WORKSPACE",
    "LLMGUARD_REPORT_URL",
)


@pytest.fixture(autouse=True)
def _outside_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's own runs never post, annotate or write the step summary of the CI job
    that runs the suite (tests that want GitHub's variables set their own)."""
    for name in GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("LLMGUARD_GITHUB")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    """One real simulator on 127.0.0.1 for the whole test session (fast latencies)."""
    server = SimServer(seed=7, latency_scale=0.05, answers=ANSWERS)
    url = server.start_in_thread()
    yield url
    server.stop_thread()


@pytest.fixture()
def sim_log(sim_url: str) -> Iterator[SimLog]:
    log = SimLog(sim_url)
    log.reset()
    yield log


class SimLog:
    """Reads the simulator's request log over HTTP, as any client would."""

    def __init__(self, base_url: str) -> None:
        self.root = base_url.rsplit("/v1", 1)[0]

    def reset(self) -> None:
        req = urllib.request.Request(self.root + "/_sim/reset", data=b"{}", method="POST")
        urllib.request.urlopen(req, timeout=5).read()

    def requests(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(self.root + "/_sim/requests", timeout=5) as resp:
            data = json.loads(resp.read())
        return list(data["requests"] if isinstance(data, dict) else data)


def load_benchmark(filename: str) -> ModuleType:
    """Import a script from benchmarks/ (not a package) so tests can drive its functions."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / filename
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
