"""The built-in simulator: a real OpenAI-compatible HTTP server with controllable faults.

Used by the quick start (no API key needed), by the project's tests instead of mocks,
and by the benchmarks. See ``models`` for the built-in model versions, ``faults`` for
the fault matrix, ``answers`` for how answers are made.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmguard.sim.determinism import prompt_sha
    from pytest_llmguard.sim.faults import FAULT_NAMES
    from pytest_llmguard.sim.models import BUILTIN_MODELS, SimModel, load_models
    from pytest_llmguard.sim.server import SimServer

# Imported on first use: importing one part of the simulator (its provider, its models)
# must not start up the whole server (aiohttp-free asyncio, answer book...).
_PUBLIC = {
    "prompt_sha": "pytest_llmguard.sim.determinism",
    "FAULT_NAMES": "pytest_llmguard.sim.faults",
    "BUILTIN_MODELS": "pytest_llmguard.sim.models",
    "SimModel": "pytest_llmguard.sim.models",
    "load_models": "pytest_llmguard.sim.models",
    "SimServer": "pytest_llmguard.sim.server",
}

__all__ = ["BUILTIN_MODELS", "FAULT_NAMES", "SimModel", "SimServer", "load_models", "prompt_sha"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmguard.sim' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
