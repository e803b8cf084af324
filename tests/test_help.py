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
    "--llmguard-report-html",
    "--llmguard-comment",
    "--llmguard-comment-strict",
    "--llmguard-report-url",
    "--llmguard-shard",
    "--llmguard-repeat",
    "--llmguard-concurrency",
    "--llmguard-logs",
    "--llmguard-sample",
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
    "llmguard_report_html",
    "llmguard_comment",
    "llmguard_comment_strict",
    "llmguard_report_url",
    "llmguard_shard",
    "llmguard_repeat",
    "llmguard_concurrency",
    "llmguard_logs",
    "llmguard_sample",
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
    for bad in ("3/2", "0/2", "two", "1/"):
        result = pytester.runpytest(f"--llmguard-shard={bad}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, bad


@pytest.mark.parametrize(
    ("ini", "flag", "problem"),
    [
        ("llmguard_target", "nope", " names unknown target 'nope'"),
        ("llmguard_baseline", "runs/none.json", ": saved run runs/none.json does not exist"),
        ("llmguard_config", "ci/none.yaml", ": the config file does not exist"),
    ],
)
def test_an_error_names_the_option_as_the_user_set_it(
    pytester: pytest.Pytester, sim_url: str, ini: str, flag: str, problem: str
) -> None:
    from tests.test_plugin import write_project

    write_project(pytester, sim_url)
    option = "--" + ini.replace("_", "-")
    result = pytester.runpytest("--llmguard", "golden_sets", option, flag)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    named = option if "names" in problem else f"{option} {flag}"
    assert result.stderr.lines[0] == f"ERROR: {named}{problem}"
    pytester.makeini(f"[pytest]\n{ini} = {flag}\n")
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    named = f"ini option {ini}" if "names" in problem else f"ini option {ini} = {flag}"
    # the option as written, the path as written (not made absolute)
    assert result.stderr.lines[0] == f"ERROR: {named}{problem}"
