"""What a run collects and selects: budget items counted like any item, and a selected
budget never judged on nothing (``--lf`` after a budget failure, a budget's node id)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SimLog
from tests.test_plugin import GATED, XDIST, write_project

WORDY = ("--llmguard-target", "candidate=sim-wordy")


@pytest.mark.parametrize("xdist", XDIST)
def test_budget_items_are_collected_and_counted_like_any_item(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest("--llmguard", "golden_sets", *xdist)
    # 3 cases x 2 targets + 3 budgets, collected and passed: not "collected 6" then "9 passed"
    result.stdout.re_match_lines([r".*(collected 9 items|\[9 items\])"])
    result.assert_outcomes(passed=9)


def test_selection_counts_stay_sane(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest("--llmguard", "golden_sets", "-k", "refund")
    result.stdout.fnmatch_lines(["collected 9 items / 7 deselected / 2 selected"])
    result.assert_outcomes(passed=2, deselected=7)
    result = pytester.runpytest("--llmguard", "golden_sets", "--co", "-q")
    result.stdout.fnmatch_lines(["llmguard.yaml::budget?error_rate?", "9 tests collected*"])
    # the budget items run last, after every case they judge
    listed = [line for line in result.stdout.lines if "::" in line]
    assert [("budget[" in line) for line in listed] == [False] * 6 + [True] * 3


@pytest.mark.parametrize("xdist", XDIST)
def test_lf_after_a_budget_failure_brings_the_cases_it_judges(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    first = pytester.runpytest("--llmguard", "golden_sets", *WORDY, *xdist)
    first.assert_outcomes(passed=7, failed=2)
    sim_log.reset()
    again = pytester.runpytest("--llmguard", "golden_sets", *WORDY, "--lf", *xdist)
    # only the two failed budget items run, and they are judged on every case again
    again.assert_outcomes(failed=2)
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    again.stdout.fnmatch_lines(["llmguard verdict: FAIL*"])
    if not xdist:
        again.stdout.fnmatch_lines(
            ["llmguard: the selected budget items judge 3 case(s) whose items were not*"]
        )
    assert len(sim_log.requests()) == 6
    report = json.loads((pytester.path / "report.json").read_text())
    assert {c["n_paired"] for c in report["comparisons"] if c["baseline"]} == {3}


def test_a_budget_selected_by_node_id_is_judged_on_its_cases(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest("--llmguard", "llmguard.yaml::budget[output_tokens_mean]", *WORDY)
    result.assert_outcomes(failed=1)
    assert len(sim_log.requests()) == 6


@pytest.mark.parametrize("xdist", XDIST)
def test_a_budget_scoped_to_no_case_is_an_error_never_a_pass(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    # A by_tag budget whose tag no case has would judge nothing: said before any call,
    # with the tags there are, and never a PASS (the budget item selected alone included).
    extra = GATED + "  by_tag: {nosuchtag: {error_rate: {max: 0.5}}}\n"
    write_project(pytester, sim_url, extra=extra)
    result = pytester.runpytest(
        "--llmguard",
        "llmguard.yaml::budget[error_rate-tag:nosuchtag]",
        "-p",
        "no:cacheprovider",
        *xdist,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*budgets.by_tag.nosuchtag*no case has it*"])
    assert "PASS" not in result.stdout.str()
    assert sim_log.requests() == []


def test_a_collection_error_elsewhere_is_no_pass_in_any_report(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    pytester.makepyfile(test_broken="import no_such_module_anywhere\n")
    result = pytester.runpytest(
        "--llmguard", "golden_sets", "test_broken.py", "--llmguard-report-md", "report.md"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "llmguard verdict: SKIP (PARTIAL RUN: not everything was judged)",
            "incomplete: errors during collection interrupted the run before any case*",
        ]
    )
    markdown = (pytester.path / "report.md").read_text().splitlines()
    assert markdown[1] == "## ⏭️ llmguard: SKIP"
    assert markdown[3].startswith("**Partial run**: not everything was judged, so this is no PASS")
    assert "errors during collection" in markdown[4]
    assert "PASS" not in markdown[1]
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["verdict"] == "skip" and report["run"]["partial"] is True
    assert report["run"]["incomplete"][0].startswith("errors during collection")
