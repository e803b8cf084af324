"""What items say: a call that was never made is not "failed after 1 attempt(s)", and the
summary counts only the calls really made."""

from __future__ import annotations

import pytest

from tests.conftest import SimLog
from tests.test_plugin import write_project


def test_a_call_never_made_says_so(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMGUARD_TEST_KEY", raising=False)
    targets = f"""
  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
  candidate: {{provider: openai, base_url: "{sim_url}", model: sim-candidate,
               api_key_env: LLMGUARD_TEST_KEY}}
"""
    write_project(pytester, sim_url, targets=targets)
    result = pytester.runpytest("--llmguard", "golden_sets")
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        ["not called: client_error: environment variable LLMGUARD_TEST_KEY is not set*"]
    )
    assert "attempt(s)" not in result.stdout.str()
    assert {r["model"] for r in sim_log.requests()} == {"sim-stable"}
    result.stdout.fnmatch_lines(["3 calls made; 3 not called (see the failed cases)"])


def test_calls_from_the_cache_are_not_counted_as_calls(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url)
    first = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-cache=record")
    first.stdout.fnmatch_lines(["llmguard: 6 responses to get from 2 target(s)*", "6 calls made"])
    again = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-cache=record")
    again.stdout.fnmatch_lines(
        ["0 calls made; 6 of 6 responses came from the cache (timings are the recorded ones)"]
    )
    assert "6 calls" not in again.stdout.str()
