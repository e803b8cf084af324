from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmguard.cache import ResponseCache, request_key
from pytest_llmguard.records import ErrorRecord, Observation


def _obs(**kw: object) -> Observation:
    base: dict[str, object] = dict(
        case_key="s.yaml::a",
        target="t",
        repeat_index=0,
        model="m",
        output="hi",
        latency_ms=123.0,
        input_tokens=5,
        output_tokens=2,
        cost_usd=0.001,
    )
    base.update(kw)
    return Observation(**base)  # type: ignore[arg-type]


def test_roundtrip_keeps_timings_and_flags_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"model": "m", "messages": []}, 0)
    cache.put(key, _obs())
    hit = cache.get(key, case_key="other.yaml::b", target="u", repeat_index=0)
    assert hit is not None
    assert hit.cached and hit.latency_ms == 123.0 and hit.output == "hi"
    assert (hit.case_key, hit.target) == ("other.yaml::b", "u")


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": 1}, 0)
    cache.put(key, _obs(output=None, error=ErrorRecord("timeout", "slow")))
    assert cache.get(key, case_key="a", target="t", repeat_index=0) is None
    assert not list(tmp_path.rglob("*.json"))


def test_key_depends_on_request_and_repeat_only() -> None:
    a = request_key({"model": "m", "messages": [{"role": "user", "content": "x"}]}, 0)
    assert a == request_key({"messages": [{"role": "user", "content": "x"}], "model": "m"}, 0)
    assert a != request_key({"model": "m", "messages": [{"role": "user", "content": "y"}]}, 0)
    assert a != request_key({"model": "m", "messages": [{"role": "user", "content": "x"}]}, 1)


def test_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": 2}, 0)
    cache.put(key, _obs())
    path = next(tmp_path.rglob("*.json"))
    path.write_text("{not json")
    assert cache.get(key, case_key="a", target="t", repeat_index=0) is None
    cache.put(key, _obs())
    assert json.loads(path.read_text())["observation"]["output"] == "hi"


def test_cache_write_tokens_survive_the_cache_and_are_validated(tmp_path: Path) -> None:
    from dataclasses import replace

    obs = Observation("s.yaml::a", "t", 0, "claude-x", "hi", 12.0, input_tokens=900,
                      cached_tokens=500, cache_write_tokens=300)  # fmt: skip
    cache = ResponseCache(tmp_path, "record")
    cache.put("k" * 64, obs)
    hit = cache.get("k" * 64, case_key="s.yaml::a", target="t", repeat_index=0)
    assert hit == replace(obs, cached=True)
    with pytest.raises(ValueError, match="cache_write_tokens is not a count"):
        Observation.from_dict({**obs.to_dict(), "cache_write_tokens": -1})
