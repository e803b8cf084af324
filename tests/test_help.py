"""Pin the llmguard option group of `pytest --help`: names users script against."""

from __future__ import annotations

import re

import pytest

from pytest_llmguard.config import CACHE_MODES

EXPECTED_OPTIONS = [
    "--llmguard",
    "--llmguard-only",
    "--llmguard-config",
    "--llmguard-target",
    "--llmguard-baseline",
    "--llmguard-save",
    "--llmguard-cache",
    "--llmguard-report-json",
    "--llmguard-report-md",
    "--llmguard-repeat",
    "--llmguard-concurrency",
    "--llmguard-drift",
]
EXPECTED_INI = [
    "llmguard",
    "llmguard_config",
    "llmguard_target",
    "llmguard_baseline",
    "llmguard_save",
    "llmguard_cache",
    "llmguard_report_json",
    "llmguard_report_md",
    "llmguard_repeat",
    "llmguard_concurrency",
    "llmguard_drift",
]


def test_help_lists_the_llmguard_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    start = text.index("LLM regression gate (pytest-llmguard):")
    group = text[start : text.index("\n\n", start)]
    found = re.findall(r"^\s+(--llmguard[\w-]*)", group, flags=re.M)
    assert found == EXPECTED_OPTIONS
    # every option's help says its default
    assert group.count("(default:") == len(EXPECTED_OPTIONS)
    for mode in CACHE_MODES:
        assert mode in group
    for ini in EXPECTED_INI:
        assert re.search(rf"^\s+{ini} \(", text, flags=re.M), ini


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llmguard-cache=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*'sometimes' is not a cache mode; valid: off, replay, record, refresh*"]
    )
    result = pytester.runpytest("--llmguard-concurrency=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
