"""Model versions: the built-ins and versions defined in config."""

from __future__ import annotations

import pytest

from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.sim import BUILTIN_MODELS, load_models


def test_builtins_differ_in_the_documented_ways() -> None:
    stable = BUILTIN_MODELS["sim-stable"]
    assert BUILTIN_MODELS["sim-candidate"].latency_ms == pytest.approx(
        stable.latency_ms * 1.03, 0.01
    )
    assert BUILTIN_MODELS["sim-slow"].latency_ms == pytest.approx(stable.latency_ms * 1.6)
    assert BUILTIN_MODELS["sim-wordy"].verbosity == pytest.approx(1.8)
    assert BUILTIN_MODELS["sim-drifted"].accuracy == pytest.approx(0.75)
    regressed = BUILTIN_MODELS["sim-regressed"]
    assert regressed.latency_ms == pytest.approx(stable.latency_ms * 1.4)
    assert regressed.accuracy < 1 and regressed.verbosity > 1 and regressed.fault_rate > 0
    flaky = BUILTIN_MODELS["sim-flaky"]
    assert (flaky.rate_limit_rate, flaky.server_error_rate) == (0.05, 0.03)


def test_config_model_inherits_from_its_base() -> None:
    models = load_models(
        {"models": {"mine": {"base": "sim-wordy", "latency_ms": 300}, "other": {"base": "mine"}}}
    )
    assert models["mine"].latency_ms == 300.0
    assert models["mine"].verbosity == BUILTIN_MODELS["sim-wordy"].verbosity
    assert models["other"].latency_ms == 300.0 and models["other"].name == "other"


def test_default_base_is_stable() -> None:
    assert load_models({"models": {"m": {"accuracy": 0.5}}})["m"].latency_ms == 120.0


@pytest.mark.parametrize(
    ("knobs", "key_path", "fragment"),
    [
        ({"latency": 300}, "sim.models.my-model.latency", "did you mean 'latency_ms'"),
        ({"latency_ms": "fast"}, "sim.models.my-model.latency_ms", "a number >= 0"),
        ({"accuracy": 1.5}, "sim.models.my-model.accuracy", "between 0 and 1"),
        ({"timeout_rate": True}, "sim.models.my-model.timeout_rate", "probability"),
        ({"reasoning_tokens": 2.5}, "sim.models.my-model.reasoning_tokens", "integer"),
        ({"base": "sim-stabel"}, "sim.models.my-model.base", "did you mean 'sim-stable'"),
        ({"timeout_rate": 0.6, "server_error_rate": 0.6}, "sim.models.my-model", "more than 1"),
    ],
)
def test_config_errors_name_the_key_path(
    knobs: dict[str, object], key_path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_models({"models": {"my-model": knobs}})
    assert info.value.key_path == key_path
    assert fragment in str(info.value)


def test_base_cycle_is_an_error() -> None:
    with pytest.raises(ConfigError, match="cycle"):
        load_models({"models": {"a": {"base": "b"}, "b": {"base": "a"}}})


def test_models_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        load_models({"models": ["a"]})
    assert info.value.key_path == "sim.models"


def test_prefix_cache_serves_a_repeated_prompt_faster() -> None:
    import httpx

    from pytest_llmguard.sim import SimServer

    models = load_models(
        {
            "models": {
                "cached": {"prefix_cache": 0.5},
                "forgetful": {"prefix_cache": 0.5, "prefix_cache_ttl_s": 0},
            }
        }
    )
    sim = SimServer(models=models, seed=3, noise_sigma=0.0, latency_scale=0.01)
    with sim as url, httpx.Client(base_url=url, timeout=10.0) as client:
        for model in ("cached", "cached", "cached", "forgetful", "forgetful", "sim-stable"):
            body = {"model": model, "messages": [{"role": "user", "content": "same?"}]}
            assert client.post("/chat/completions", json=body).status_code == 200
        other = {"model": "cached", "messages": [{"role": "user", "content": "other"}]}
        client.post("/chat/completions", json=other)
        log = [row["latency_ms"] for row in sim.request_log]
    cold = log[0]
    assert log[1] == pytest.approx(cold * 0.5) and log[2] == pytest.approx(cold * 0.5)
    assert log[3] == pytest.approx(cold) and log[4] == pytest.approx(cold)  # expired at once
    assert log[5] == pytest.approx(cold)  # another model has its own cache
    assert log[6] != pytest.approx(cold * 0.5)  # another prompt is cold


def test_prefix_cache_is_a_share() -> None:
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_models({"models": {"m": {"prefix_cache": 1.5}}})
