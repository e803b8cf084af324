"""The sequential gate's plan and its stopping rule (``adaptive``); the session's use of it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard import adaptive
from pytest_llmguard.config import CacheConfig, CompareConfig, Config, GateConfig, TargetConfig
from pytest_llmguard.config.budgets import parse_budgets
from pytest_llmguard.session import GuardSession
from pytest_llmguard.stats import look_levels


def test_the_default_gate_is_sequential() -> None:
    gate = GateConfig()
    assert gate.adaptive and gate.adaptive_rounds == 5
    looks = adaptive.plan_looks(gate, base_repeat=1, may_repeat=True)
    assert looks.rounds == 5
    assert looks.levels == look_levels(0.95, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert looks.gate_at(gate, 0).confidence == looks.levels[0]
    assert looks.gate_at(gate, 9).confidence == looks.levels[-1]  # past the end: the last
    note = looks.note(1)
    assert note is not None and "look 2 of at most 6" in note and "alpha spending" in note


@pytest.mark.parametrize(
    ("gate", "may_repeat"),
    [
        (GateConfig(adaptive=False), True),
        (GateConfig(strict=True), True),
        (GateConfig(), False),
    ],
)
def test_one_look_at_full_confidence_when_no_more_looks_can_happen(
    gate: GateConfig, may_repeat: bool
) -> None:
    looks = adaptive.plan_looks(gate, base_repeat=3, may_repeat=may_repeat)
    assert looks.levels == (gate.confidence,) and looks.rounds == 0
    assert looks.note(0) is None


def test_information_counts_the_calls_per_case() -> None:
    looks = adaptive.plan_looks(GateConfig(adaptive_rounds=2), base_repeat=3, may_repeat=True)
    assert looks.levels == look_levels(0.95, [3.0, 4.0, 5.0])


def test_more_looks_need_a_relative_budget_and_a_compared_target_that_runs() -> None:
    relative = parse_budgets({"latency_p95_ms": {"max_increase": "10%"}})
    absolute = parse_budgets({"latency_p95_ms": {"max": 1000}})
    assert adaptive.may_repeat(relative, ("cand", "base"), {"cand": 1})
    assert not adaptive.may_repeat(absolute, ("cand", "base"), {"cand": 1})
    assert not adaptive.may_repeat(relative, ("cand", "base"), {"other": 1})
    assert not adaptive.may_repeat(relative, (), {"cand": 1})


def _session(tmp_path: Path, **changes: Any) -> GuardSession:
    config = Config(
        rootdir=str(tmp_path),
        golden_sets=(),
        targets={n: TargetConfig(n, "openai", "m", base_url="http://127.0.0.1:9") for n in "bc"},
        compare=CompareConfig("b", "c"),
        cache=CacheConfig(mode="record"),
        budgets=parse_budgets({"latency_p95_ms": {"max_increase": "10%"}}),
    )
    return GuardSession(replace(config, **changes), [])


def test_a_session_plans_its_looks_from_what_it_can_call(tmp_path: Path) -> None:
    assert _session(tmp_path).looks.rounds == 5
    # A replay cannot make new calls (each extra repeat would be a cache miss): one look.
    replay = _session(tmp_path, cache=CacheConfig(mode="replay"))
    assert replay.looks.levels == (0.95,)
    assert _session(tmp_path, budgets=()).looks.rounds == 0


def test_items_judge_their_planned_calls_not_the_gates_extra_looks(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    from tests.test_plugin import ALWAYS_BORDERLINE, write_project

    # Every budget undecided at every look (as in test_plugin's rounds test): two rounds.
    pytester.makeconftest(ALWAYS_BORDERLINE)
    extra = (
        "compare: {baseline: baseline, candidate: candidate}\n"
        "gate: {min_cases: 3, adaptive_rounds: 2}\n"
        'budgets: {latency_mean_ms: {max_increase: "50%"}}\n'
    )
    write_project(pytester, sim_url, extra=extra)
    result = pytester.runpytest("--llmguard", "golden_sets", "--junitxml=junit.xml")
    result.assert_outcomes(passed=7)
    report = json.loads((pytester.path / "report.json").read_text())
    assert {c["repeat_index"] for c in report["cases"]} == {0, 1, 2}  # the gate's evidence
    xml = (pytester.path / "junit.xml").read_text()
    # each case item records the latency of the calls it judged: its one planned call
    assert xml.count('name="latency_ms"') == 6
