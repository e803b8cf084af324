"""One verdict path: a pytest run against a saved baseline and `llmguard diff` of the same
two saved runs decide the same, regressed cases included."""

from __future__ import annotations

import json

import pytest

from pytest_llmguard.cli import main
from pytest_llmguard.config import GateConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.outcome import BaselineInfo, Judgement
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


def test_assess_gates_the_targets_gate_targets_names_by_absolute_bounds_only() -> None:
    judgement = _three_targets(GateConfig(min_cases=3, targets=("explore",)))
    by = {(c.candidate, c.metric): c.verdict for c in judgement.comparisons}
    assert by == {
        ("cand", "latency_mean_ms"): "fail",
        ("cand", "check_pass_rate"): "pass",
        ("explore", "check_pass_rate"): "fail",  # 75% < 90%
    }
    assert judgement.verdict == "fail" == overall_verdict(judgement.comparisons)
    assert judgement.baseline is not None and judgement.baseline.target == "base"


def test_a_target_outside_compare_is_reported_but_not_gated_by_default() -> None:
    judgement = _three_targets(GateConfig(min_cases=3))
    assert {c.candidate for c in judgement.comparisons} == {"cand"}
    assert set(judgement.summaries) == {"base", "cand", "explore"}  # still reported
    assert any(n.startswith("not gated (outside compare): explore") for n in judgement.notes)


def _three_targets(gate: GateConfig) -> Judgement:
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
    return assess(
        summaries,
        [*base, *cand, *other],
        budgets=budgets,
        gate=gate,
        candidate="cand",
        baseline=Baseline(
            BaselineInfo("target", "base", "base", "m"), summaries["base"], tuple(base)
        ),
    )


def test_a_relative_budget_without_a_baseline_says_it_needs_one() -> None:
    keys = [f"s.yaml::c{i}" for i in range(4)]
    cand = [_scored("cand", k, 300.0, True) for k in keys]
    budgets = parse_budgets(
        {
            "latency_mean_ms": {"max_increase": "50%"},
            "check_pass_rate": {"min": 0.9, "max_decrease": 0.05},
        }
    )
    judgement = assess(
        {"cand": summarize("cand", "sim", "m", cand)},
        cand,
        budgets=budgets,
        gate=GateConfig(min_cases=3),
        candidate="cand",
        baseline=None,
    )
    by = {c.metric: c for c in judgement.comparisons}
    assert set(by) == {"latency_mean_ms", "check_pass_rate"}  # nothing vanishes
    latency = by["latency_mean_ms"]
    assert latency.verdict == "skip"
    assert latency.reason == (
        "max_increase +50% needs a baseline (compare.baseline or --llmguard-baseline)"
    )
    both = by["check_pass_rate"]  # the absolute bound is judged, the relative one said
    assert both.verdict == "skip" and both.candidate_value == 1.0
    assert both.reason.startswith("check_pass_rate is 100.0%, within min 90.0%; max_decrease")
    assert judgement.verdict == "skip"


@pytest.mark.parametrize("gated", [False, True])
def test_an_exploratory_target_is_reported_and_gated_only_when_asked(
    pytester: pytest.Pytester, sim_url: str, gated: bool
) -> None:
    models = {"baseline": "sim-stable", "candidate": "sim-candidate", "explore": "sim-wordy"}
    targets = "".join(
        f'\n  {name}: {{provider: openai, base_url: "{sim_url}", model: {model}}}'
        for name, model in models.items()
    )
    extra = (
        "compare: {baseline: baseline, candidate: candidate}\n"
        f"gate: {{min_cases: 3{', targets: [explore]' if gated else ''}}}\n"
        'budgets: {error_rate: {max: 0.5}, output_tokens_mean: {max_increase: "5%"}}\n'
    )
    write_project(pytester, sim_url, targets=targets + "\n", extra=extra)
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.OK  # the wordy explorer breaks no gate
    report = json.loads((pytester.path / "report.json").read_text())
    assert set(report["targets"]) == {"baseline", "candidate", "explore"}  # all reported
    rows = {(c["candidate"], c["metric"]) for c in report["comparisons"]}
    if gated:
        assert rows == {
            ("candidate", "error_rate"),
            ("candidate", "output_tokens_mean"),
            ("explore", "error_rate"),  # its absolute bound only: it has no baseline
        }
        # several targets judged: every budget row names its target
        result.stdout.fnmatch_lines(["PASS*error_rate @ candidate*", "PASS*error_rate @ explore*"])
    else:
        assert rows == {("candidate", "error_rate"), ("candidate", "output_tokens_mean")}
        result.stdout.fnmatch_lines(["note: not gated (outside compare): explore*"])
        assert "error_rate @" not in result.stdout.str()


def test_budgets_with_nothing_to_judge_are_no_pass() -> None:
    budgets = parse_budgets({"error_rate": {"max": 0.5}})
    nothing = assess({}, [], budgets=budgets, gate=GateConfig(), candidate="c", baseline=None)
    assert nothing.verdict == "skip" and not nothing.comparisons
    assert "nothing was judged: no case of a gated target ran" in nothing.notes
    no_budgets = assess({}, [], budgets=(), gate=GateConfig(), candidate="c", baseline=None)
    assert no_budgets.verdict == "pass"  # nothing was asked
