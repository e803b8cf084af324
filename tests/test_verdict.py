"""One verdict path: a pytest run against a saved baseline and `llmguard diff` of the same
two saved runs decide the same, regressed cases included."""

from __future__ import annotations

import json

import pytest

from pytest_llmguard.cli import main
from pytest_llmguard.config import GateConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.outcome import BaselineInfo
from pytest_llmguard.records import CheckResult, Observation, ScoredObservation
from pytest_llmguard.run_diff import diff_runs
from pytest_llmguard.summary import summarize
from pytest_llmguard.verdict import Baseline, assess, overall_verdict
from tests.test_plugin import write_project

GATE = """\
compare: {baseline: baseline, candidate: candidate}
gate: {min_cases: 3}
budgets:
  latency_mean_ms: {max_increase: "500%"}
  similarity_mean: {max_decrease: 0.01}
  check_pass_rate: {min: 0.9}
  by_tag:
    billing: {check_pass_rate: {min: 0.99}}
"""


def test_pytest_run_and_llmguard_diff_give_the_same_judgement(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url, extra=GATE)
    first = pytester.runpytest(
        "--llmguard", "golden_sets", "--llmguard-target", "baseline", "--llmguard-save", "A.json"
    )
    assert first.ret == 0
    second = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate",
        "--llmguard-target",
        "candidate=sim-drifted",
        "--llmguard-baseline",
        "A.json",
        "--llmguard-save",
        "B.json",
    )
    saved = json.loads((pytester.path / "B.json").read_text())
    verdicts = {(c["metric"], c["scope"]): c["verdict"] for c in saved["comparisons"]}
    # absolute, relative and per-tag bounds are all there, and something regressed
    assert set(verdicts) == {
        ("latency_mean_ms", "all"),
        ("similarity_mean", "all"),
        ("check_pass_rate", "all"),
        ("check_pass_rate", "tag:billing"),
    }
    assert saved["regressions"], "the drifted model should regress some case"
    assert saved["baseline"]["source"] == "saved" and saved["baseline"]["label"] == "A.json"
    assert second.ret == (1 if saved["verdict"] == "fail" else 0)

    diffed = diff_runs("A.json", "B.json", config_path=None, rootdir=str(pytester.path))
    assert [c.to_dict() for c in diffed.comparisons] == saved["comparisons"]
    assert [r.to_dict() for r in diffed.regressions] == saved["regressions"]
    assert diffed.verdict == saved["verdict"]
    assert main(["diff", "A.json", "B.json"]) == (1 if saved["verdict"] == "fail" else 0)


def _scored(target: str, key: str, latency: float, passed: bool) -> ScoredObservation:
    obs = Observation(key, target, 0, "m", "out", latency, input_tokens=1, output_tokens=1)
    return ScoredObservation(obs, (CheckResult("contains", passed, "x"),), {"similarity": 1.0})


def test_assess_gates_other_targets_by_absolute_bounds_only() -> None:
    keys = [f"s.yaml::c{i}" for i in range(4)]
    base = [_scored("base", k, 100.0, True) for k in keys]
    cand = [_scored("cand", k, 300.0, True) for k in keys]
    other = [_scored("explore", k, 100.0, k != keys[0]) for k in keys]
    summaries = {
        name: summarize(name, "sim", "m", scored)
        for name, scored in (("base", base), ("cand", cand), ("explore", other))
    }
    budgets = parse_budgets(
        {"latency_mean_ms": {"max_increase": "50%"}, "check_pass_rate": {"min": 0.9}}
    )
    judgement = assess(
        summaries,
        [*base, *cand, *other],
        budgets=budgets,
        gate=GateConfig(min_cases=3),
        candidate="cand",
        baseline=Baseline(
            BaselineInfo("target", "base", "base", "m"), summaries["base"], tuple(base)
        ),
    )
    by = {(c.candidate, c.metric): c.verdict for c in judgement.comparisons}
    assert by == {
        ("cand", "latency_mean_ms"): "fail",
        ("cand", "check_pass_rate"): "pass",
        ("explore", "check_pass_rate"): "fail",  # 75% < 90%
    }
    assert judgement.verdict == "fail" == overall_verdict(judgement.comparisons)
    assert judgement.baseline is not None and judgement.baseline.target == "base"
