"""Planned latency of one simulated call.

``latency_ms x exp(latency_sigma x z_case) x exp(noise_sigma x z_request)``: the per-case
factor ``z_case`` depends only on the prompt and the seed, so one case is consistently
fast or slow on every model (paired comparisons stay meaningful); the request noise
depends on the model and the attempt number, so a rerun with the same seed repeats it.
"""

from __future__ import annotations

import math

from pytest_llmguard.sim.determinism import normal
from pytest_llmguard.sim.models import SimModel


def plan_latency_ms(
    model: SimModel, prompt_sha: str, attempt: int | str, *, seed: int, noise_sigma: float
) -> float:
    """Total latency in milliseconds before the server's ``latency_scale``."""
    latency = model.latency_ms
    if model.latency_sigma > 0.0:
        latency *= math.exp(model.latency_sigma * normal(seed, "case", prompt_sha))
    if noise_sigma > 0.0:
        latency *= math.exp(noise_sigma * normal(seed, "noise", model.name, prompt_sha, attempt))
    return latency
