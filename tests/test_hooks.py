"""The extension hooks (hookspec.py), used from a project's conftest.py as users would."""

from __future__ import annotations

import json

import pytest

from tests.test_plugin import write_project

XDIST = [pytest.param([], id="single"), pytest.param(["-n", "2"], id="xdist")]


@pytest.mark.parametrize("xdist", XDIST)
def test_update_json_and_outcome_hooks_run_once_in_the_judging_process(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    write_project(pytester, sim_url)
    pytester.makeconftest(
        """
        import json

        def pytest_llmguard_update_json(config, report):
            report["team"] = "search"
            report["hook_cases"] = len(report["cases"])

        def pytest_llmguard_outcome(config, outcome):
            with open("outcome.jsonl", "a") as fh:
                fh.write(json.dumps({"verdict": outcome.verdict, "n": len(outcome.scored),
                                     "worker": hasattr(config, "workerinput")}) + "\\n")
        """
    )
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-save", "run.json", *xdist)
    assert result.ret == 0
    report = json.loads((pytester.path / "report.json").read_text())
    saved = json.loads((pytester.path / "run.json").read_text())
    assert report["team"] == saved["team"] == "search"
    assert report["hook_cases"] == 6
    lines = (pytester.path / "outcome.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"verdict": "pass", "n": 6, "worker": False}]


def test_a_failing_outcome_hook_does_not_change_the_verdict(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url)
    pytester.makeconftest(
        "def pytest_llmguard_outcome(config, outcome):\n    raise RuntimeError('chat is down')\n"
    )
    result = pytester.runpytest("--llmguard", "golden_sets", "-W", "default")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*pytest_llmguard_outcome hook failed*chat is down*"])
    result.stdout.fnmatch_lines(["*llmguard verdict: PASS*"])
