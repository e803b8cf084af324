"""What the run says about its calls: only the calls really made are counted (a call
never made is not "failed after 1 attempt(s)": tests/test_plugin.py, missing API key)."""

from __future__ import annotations

import pytest

from tests.test_plugin import write_project


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
