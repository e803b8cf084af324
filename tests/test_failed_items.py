"""A case item that fails fails the run in every report, not only in pytest's exit status."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pytest_llmguard.outcome import with_failed_items
from tests.test_plugin import REPORT_SCHEMA, SUPPORT, XDIST, write_project

FAILING = SUPPORT.replace('- contains: "30 days"', '- contains: "90 days"')
REPORTS = "report: {json: report.json, markdown: comment.md, html: report.html}\n"


def _project(pytester: pytest.Pytester, sim_url: str, golden: str) -> None:
    write_project(pytester, sim_url, golden=golden)
    config = pytester.path / "llmguard.yaml"
    config.write_text(config.read_text().replace("report: {json: report.json}\n", REPORTS))


@pytest.mark.parametrize("xdist", XDIST)
def test_failed_checks_without_budgets_are_a_failed_run_everywhere(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    _project(pytester, sim_url, FAILING)
    result = pytester.runpytest("--llmguard", "golden_sets", *xdist)
    result.assert_outcomes(failed=2, passed=4)  # refund-window on both targets
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "llmguard verdict: FAIL" in out and "llmguard verdict: PASS" not in out
    assert "failed: 2 case items failed (checks or calls; see the test failures)" in out
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["verdict"] == "fail"
    assert report["run"]["failed_items"] == 2
    assert report["comparisons"] == []  # no budget: the cases alone failed the run
    comment = (pytester.path / "comment.md").read_text()
    assert "llmguard: FAIL" in comment and "PASS" not in comment.split("\n")[1]
    assert "**Failed cases:** 2 case items failed" in comment
    html = (pytester.path / "report.html").read_text()
    assert "2 case items failed" in html


def test_passing_cases_leave_the_verdict_to_the_budgets(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    _project(pytester, sim_url, SUPPORT)
    result = pytester.runpytest("--llmguard", "golden_sets")
    result.assert_outcomes(passed=6)
    assert "llmguard verdict: PASS" in result.stdout.str()
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["verdict"] == "pass" and report["run"]["failed_items"] == 0
    assert "Failed cases" not in (pytester.path / "comment.md").read_text()


def test_a_failing_case_whose_item_was_not_selected_does_not_count(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    """The verdict agrees with the exit status: only items pytest ran can fail the run."""
    _project(pytester, sim_url, FAILING)
    result = pytester.runpytest("--llmguard", "golden_sets", "-k", "not refund")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    assert "llmguard verdict: PASS" in result.stdout.str()


def test_a_failed_budget_run_with_failed_cases_says_both(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    budgets = "budgets: {latency_p95_ms: {max: 0.001}}\n"
    _project(pytester, sim_url, FAILING)
    config = pytester.path / "llmguard.yaml"
    config.write_text(config.read_text() + budgets)
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    out = result.stdout.str()
    assert "llmguard verdict: FAIL" in out and "failed: 2 case items failed" in out


@pytest.mark.parametrize(
    ("verdict", "failed", "expected"),
    [
        ("pass", 0, "pass"),
        ("warn", 0, "warn"),
        ("skip", 0, "skip"),
        ("pass", 1, "fail"),
        ("warn", 3, "fail"),
        ("skip", 1, "fail"),
        ("fail", 2, "fail"),
    ],
)
def test_with_failed_items(verdict: str, failed: int, expected: str) -> None:
    assert with_failed_items(verdict, failed) == expected  # type: ignore[arg-type]
