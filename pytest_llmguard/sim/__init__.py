"""The built-in simulator: a real OpenAI-compatible HTTP server with controllable faults.

Used by the quick start (no API key needed), by the project's tests instead of mocks,
and by the benchmarks. See ``models`` for the built-in model versions, ``faults`` for
the fault matrix, ``answers`` for how answers are made.
"""

from __future__ import annotations

from pytest_llmguard.sim.determinism import prompt_sha
from pytest_llmguard.sim.faults import FAULT_NAMES
from pytest_llmguard.sim.models import BUILTIN_MODELS, SimModel, load_models
from pytest_llmguard.sim.server import SimServer

__all__ = ["BUILTIN_MODELS", "FAULT_NAMES", "SimModel", "SimServer", "load_models", "prompt_sha"]
