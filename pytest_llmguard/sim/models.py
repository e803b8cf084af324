"""Simulated model versions: named bundles of knobs that differ in controlled ways.

Built-in versions (latencies are medians before the server's ``latency_scale``):

==============  ==========================================================================
sim-stable      120 ms, small jitter, exact answers. The reference model.
sim-candidate   Same answers as sim-stable, latency +3 % (124 ms): a within-budget change,
                used by the quick start as the passing candidate.
sim-slow        Same answers, latency x1.6 (192 ms).
sim-wordy       Verbosity 1.8: deterministic filler sentences, ~80 % more output tokens
                (so higher cost), and a little slower (150 ms) because it writes more.
sim-drifted     Accuracy 0.75: a silent model update; a quarter of the words and numbers
                differ from the reference, so similarity drops and fact checks fail.
sim-regressed   Latency x1.4, verbosity 1.3, accuracy 0.8, 3 % 5xx and 3 % malformed
                bodies: the quick start's failing-gate demo.
sim-flaky       Exact answers but 5 % 429 (Retry-After 1 s) and 3 % 5xx; faults depend on
                the attempt number, so a retry usually succeeds.
==============  ==========================================================================

``prefix_cache`` (0..1, default 0) models a server's prompt cache (llama.cpp, vLLM,
OpenAI): a prompt this model served less than ``prefix_cache_ttl_s`` seconds ago is
answered that share faster (time to first token included), whichever target sent it.

More versions come from config (``sim.models``), each starting from a ``base``
(a built-in or another configured version, default ``sim-stable``) and overriding knobs::

    sim:
      models:
        my-model: {base: sim-stable, latency_ms: 300, accuracy: 0.9}
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_llmguard.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class SimModel:
    """The knobs of one simulated model version.

    Rates are probabilities per request in 0..1; the fault rates (timeout, rate limit,
    server error, malformed, truncated) must add up to at most 1. ``refusal_rate`` and
    ``repetition_rate`` are per prompt (the same prompt always refuses or never does).
    ``accuracy_share`` is the share of prompts (fixed per prompt) that ``accuracy``
    applies to: ``accuracy: 0.7, accuracy_share: 0.2`` changes the answers of a fifth of
    the cases and leaves the rest exact (a silent update that moved some behaviour).
    ``variable_share`` is the share of prompts (fixed per prompt) whose answer varies from
    request to request, as sampling at a temperature above 0 does: each request rewrites
    up to ``variation`` of the words (each such prompt has its own rate between 0 and
    ``variation``), drawn per attempt and, with ``sim.run_seed``, per run.
    """

    name: str
    latency_ms: float = 120.0
    latency_sigma: float = 0.25
    ttft_fraction: float = 0.3
    verbosity: float = 1.0
    accuracy: float = 1.0
    timeout_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_s: float = 1.0
    server_error_rate: float = 0.0
    malformed_rate: float = 0.0
    truncated_rate: float = 0.0
    refusal_rate: float = 0.0
    repetition_rate: float = 0.0
    reasoning_tokens: int = 0
    prefix_cache: float = 0.0
    prefix_cache_ttl_s: float = 10.0
    accuracy_share: float = 1.0
    variable_share: float = 0.0
    variation: float = 0.3
    echo_rate: float = 0.0  # per prompt: the answer first quotes the user's message

    @property
    def fault_rate(self) -> float:
        """Probability that a request gets an injected fault."""
        return (
            self.timeout_rate
            + self.rate_limit_rate
            + self.server_error_rate
            + self.malformed_rate
            + self.truncated_rate
        )


_STABLE = SimModel("sim-stable")

BUILTIN_MODELS: Mapping[str, SimModel] = {
    m.name: m
    for m in (
        _STABLE,
        dataclasses.replace(_STABLE, name="sim-candidate", latency_ms=124.0),
        dataclasses.replace(_STABLE, name="sim-slow", latency_ms=192.0),
        dataclasses.replace(_STABLE, name="sim-wordy", latency_ms=150.0, verbosity=1.8),
        dataclasses.replace(_STABLE, name="sim-drifted", accuracy=0.75),
        dataclasses.replace(
            _STABLE,
            name="sim-regressed",
            latency_ms=168.0,
            verbosity=1.3,
            accuracy=0.8,
            server_error_rate=0.03,
            malformed_rate=0.03,
        ),
        dataclasses.replace(
            _STABLE, name="sim-flaky", rate_limit_rate=0.05, server_error_rate=0.03
        ),
    )
}

_RATE_KNOBS = (
    "timeout_rate",
    "rate_limit_rate",
    "server_error_rate",
    "malformed_rate",
    "truncated_rate",
    "refusal_rate",
    "repetition_rate",
    "echo_rate",
)
# knob -> (lowest, highest or None, what to say when out of range)
_RANGES: Mapping[str, tuple[float, float | None, str]] = {
    "latency_ms": (0.0, None, "a number >= 0"),
    "latency_sigma": (0.0, None, "a number >= 0"),
    "ttft_fraction": (0.0, 1.0, "a number between 0 and 1"),
    "verbosity": (0.05, 20.0, "a number between 0.05 and 20"),
    "accuracy": (0.0, 1.0, "a number between 0 and 1"),
    "retry_after_s": (0.0, None, "a number >= 0"),
    "reasoning_tokens": (0.0, None, "an integer >= 0"),
    "prefix_cache": (0.0, 1.0, "a share of the latency between 0 and 1"),
    "prefix_cache_ttl_s": (0.0, None, "a number of seconds >= 0"),
    "accuracy_share": (0.0, 1.0, "a share between 0 and 1"),
    "variable_share": (0.0, 1.0, "a share between 0 and 1"),
    "variation": (0.0, 1.0, "a share between 0 and 1"),
    **{k: (0.0, 1.0, "a probability between 0 and 1") for k in _RATE_KNOBS},
}
KNOBS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SimModel) if f.name != "name")


def load_models(raw: Mapping[str, Any]) -> dict[str, SimModel]:
    """Build the model versions defined in a config ``sim:`` section.

    ``raw`` is the ``sim`` mapping; only its ``models`` key is read. Returns the configured
    versions only (the server adds the built-ins). Raises ConfigError with the key path
    (``sim.models.NAME.KNOB``) on unknown knobs, wrong types, bad ranges or ``base`` cycles.
    """
    models_raw = raw.get("models", {})
    if models_raw is None:
        return {}
    if not isinstance(models_raw, Mapping):
        raise ConfigError(
            "must be a mapping of model name to knobs", key_path="sim.models", docs="the-simulator"
        )
    named = {str(name): knobs for name, knobs in models_raw.items()}  # YAML: `1:` is an int
    built: dict[str, SimModel] = {}
    for name in named:
        _build(name, named, built, ())
    return built


def _build(
    name: str, raw: Mapping[str, Any], built: dict[str, SimModel], chain: tuple[str, ...]
) -> SimModel:
    if name in built:
        return built[name]
    path = f"sim.models.{name}"
    if name in chain:
        raise ConfigError(
            f"'base' forms a cycle: {' -> '.join((*chain, name))}",
            key_path=f"{path}.base",
            docs="the-simulator",
        )
    knobs = raw[name]
    if knobs is None:
        knobs = {}
    if not isinstance(knobs, Mapping):
        raise ConfigError("must be a mapping of knobs", key_path=path, docs="the-simulator")
    base = _base_model(name, knobs, raw, built, chain)
    overrides = {key: _knob_value(path, str(key), value) for key, value in knobs.items()}
    overrides.pop("base", None)
    model = dataclasses.replace(base, name=name, **overrides)
    _check_fault_total(path, model)
    built[name] = model
    return model


def _base_model(
    name: str,
    knobs: Mapping[str, Any],
    raw: Mapping[str, Any],
    built: dict[str, SimModel],
    chain: tuple[str, ...],
) -> SimModel:
    base_name = knobs.get("base", "sim-stable")
    if isinstance(base_name, str) and base_name in raw and base_name != name:
        return _build(base_name, raw, built, (*chain, name))
    if isinstance(base_name, str) and base_name in BUILTIN_MODELS:
        return BUILTIN_MODELS[base_name]
    known = sorted({*BUILTIN_MODELS, *(str(k) for k in raw if k != name)})
    raise ConfigError(
        f"unknown base model {base_name!r}",
        key_path=f"sim.models.{name}.base",
        hint=_did_you_mean(str(base_name), known) + "valid: " + ", ".join(known),
        docs="the-simulator",
    )


def _knob_value(path: str, key: str, value: Any) -> Any:
    if key == "base":
        return value
    if key not in KNOBS:
        raise ConfigError(
            f"unknown simulator knob {key!r}",
            key_path=f"{path}.{key}",
            hint=_did_you_mean(key, KNOBS) + "valid: base, " + ", ".join(KNOBS),
            docs="the-simulator",
        )
    lowest, highest, wanted = _RANGES[key]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if key == "reasoning_tokens" and not (isinstance(value, int) and not isinstance(value, bool)):
        is_number = False
    in_range = is_number and lowest <= value and (highest is None or value <= highest)
    if not in_range:
        raise ConfigError(
            f"must be {wanted}, got {value!r}", key_path=f"{path}.{key}", docs="the-simulator"
        )
    return value if key == "reasoning_tokens" else float(value)


def _check_fault_total(path: str, model: SimModel) -> None:
    if model.fault_rate > 1.0 + 1e-9:
        raise ConfigError(
            f"fault rates add up to {model.fault_rate:g}, more than 1",
            key_path=path,
            hint="timeout_rate + rate_limit_rate + server_error_rate + malformed_rate"
            " + truncated_rate must be <= 1",
            docs="the-simulator",
        )


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""
