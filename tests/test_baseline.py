"""What a run is judged against, said plainly and not paid twice (``baseline.py``)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SimLog
from tests.test_plugin import GATED, write_project


def test_a_saved_baseline_replaces_the_baseline_target_and_says_so(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    (pytester.path / "runs").mkdir()
    first = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-save", "runs/A.json")
    assert first.ret == pytest.ExitCode.OK
    sim_log.reset()
    second = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate=sim-wordy",
        "--llmguard-baseline",
        "runs/A.json",
    )
    # The baseline target (sim-stable) is not called: nothing would use its answers.
    assert {r["model"] for r in sim_log.requests()} == {"sim-wordy"}
    second.stdout.fnmatch_lines(
        [
            "llmguard verdict: FAIL",
            "compared: candidate candidate (sim-wordy) vs baseline saved run runs/A.json: "
            "target candidate (sim-candidate*",
        ]
    )
    out = second.stdout.str()
    assert "note: target 'baseline' not called: the baseline is runs/A.json" in out
    assert "baseline (sim-stable)" not in out  # no row for a target that did not run
    report = json.loads((pytester.path / "report.json").read_text())
    assert set(report["targets"]) == {"candidate"}
    assert report["baseline"]["label"] == "runs/A.json"
    assert {c["baseline"] for c in report["comparisons"] if c["delta"] is not None} == {
        "runs/A.json"
    }


def test_naming_the_baseline_target_still_runs_it(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    pytester.runpytest("--llmguard", "golden_sets", "--llmguard-save", "A.json")
    sim_log.reset()
    pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "baseline",
        "--llmguard-baseline",
        "A.json",
    )
    assert {r["model"] for r in sim_log.requests()} == {"sim-stable"}
