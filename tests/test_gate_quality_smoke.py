"""benchmarks/gate_quality.py end to end on a tiny configuration (2 runs x 20 cases)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from pytest_llmguard.adaptive import borderline
from pytest_llmguard.config import GateConfig
from tests.conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("gate_quality.py")


def test_budgets_sit_between_no_change_and_the_injected_regression(bench: ModuleType) -> None:
    by_metric = {b.metric: b for b in bench.budgets()}
    assert 0 < by_metric["latency_p95_ms"].max_increase.value < 0.25
    assert 0 < by_metric["output_tokens_mean"].max_increase.value < 0.15
    assert 0 < by_metric["similarity_mean"].max_decrease.value < 0.05
    assert 0 < by_metric["error_rate"].max_increase.value < 0.05
    assert {s.metric for s in bench.SCENARIOS} == {None, *by_metric}


def test_the_benchmark_measures_the_default_gate(bench: ModuleType) -> None:
    config = bench.gate_config(bench.SCENARIOS[0], "http://127.0.0.1:9", bench.Settings(), "/")
    assert config.gate == GateConfig()  # no gate settings
    assert config.run.retries.max == 0  # a 5xx reaches the gate
    assert len(bench.build_cases(bench.Settings().cases)) == 150


def test_cases_have_reference_answers(bench: ModuleType) -> None:
    cases = bench.build_cases(5)
    assert len({c.key for c in cases}) == 5
    assert all(c.expected and len(c.expected.split()) > 60 for c in cases)
    assert bench.build_cases(5) == cases  # deterministic


def test_tiny_run_tallies_every_scenario(bench: ModuleType) -> None:
    settings = bench.Settings(runs=2, cases=20, latency_scale=0.1, concurrency=8, in_process=True)
    result = bench.run_benchmark(settings)
    assert result.errors == 0
    assert set(result.tallies) == {s.name for s in bench.SCENARIOS}
    for scenario in bench.SCENARIOS:
        tally = result.tallies[scenario.name]
        assert tally.runs == 2
        assert set(tally.verdicts) == set(bench.GATES)
        for gate in bench.GATES:
            assert sum(tally.verdicts[gate].values()) == 2
            assert set(tally.verdicts[gate]) <= {"pass", "warn", "fail"}
        assert len(tally.changes) == 2
        assert sum(tally.rounds.values()) == 2 and set(tally.rounds) <= set(range(6))
        # Each round repeats every case on both targets (1 more call per first call).
        made = sum(k * n for k, n in tally.rounds.items()) / 2
        assert tally.mean_calls() == pytest.approx(1.0 + made)
    # Output wording and length do not depend on timing: these regressions are far
    # beyond their budgets even on 20 cases, so the point estimate always sees them.
    for name in ("output tokens +15%", "similarity -0.05"):
        tally = result.tallies[name]
        assert tally.rate("strict", "fail") == 1.0
        assert tally.rate("single look", "fail") + tally.rate("single look", "warn") == 1.0
    tokens = result.tallies["output tokens +15%"].changes
    assert all(8.0 < change < 25.0 for change in tokens)  # percent
    drift = result.tallies["similarity -0.05"].changes
    assert all(-0.09 < change < -0.02 for change in drift)

    table = bench.table(result).splitlines()
    assert table[0].startswith("| scenario | runs |") and "default gate: fail" in table[0]
    assert "calls ×" in table[0]
    assert len(table) == 2 + len(bench.SCENARIOS)
    assert all(
        row.startswith(f"| {s.name} | 2 |")
        for row, s in zip(table[2:], bench.SCENARIOS, strict=True)
    )
    assert "calls <= 1.3×" in table[2]  # the unchanged model's row also states the cost target


def test_the_default_gate_looks_again_at_an_undecided_budget(bench: ModuleType) -> None:
    """A 20-case p95 comparison is rarely decided at once: the real session re-runs it."""
    settings = bench.Settings(cases=20, latency_scale=0.1, concurrency=8)
    cases = bench.build_cases(settings.cases)
    golden = bench.GoldenSet("gate", bench.SET_PATH, tuple(cases))
    scenario = bench.SCENARIOS[1]  # p95 latency +25%
    # Latency is measured for real, so on a busy machine one seed's first look can be
    # decided already (and another budget can be the undecided one). The test is about an
    # undecided p95 budget: take the first seed whose first look left it undecided, and
    # check that the session looked again because of it.
    for seed in range(3, 11):
        with (
            tempfile.TemporaryDirectory() as root,
            bench.simulators(bench._server_config(cases, settings), True) as sims,
        ):
            config = bench.gate_config(scenario, sims.reseed(seed), settings, root)
            gate = bench.run_gate(config, golden)
        latency = next(c for c in gate.comparisons["single look"] if c.metric == "latency_p95_ms")
        if borderline(latency):
            break
    else:
        pytest.fail("no seed of 3..10 left the p95 comparison undecided at the first look")
    assert gate.rounds >= 1  # an undecided budget is never settled on the first look
    assert gate.calls == 1.0 + gate.rounds  # every round: every case again, on both sides
    assert gate.errors == 0


def test_command_reproduces_the_settings(bench: ModuleType) -> None:
    assert bench.command(bench.Settings()) == ".venv/bin/python benchmarks/gate_quality.py"
    cmd = bench.command(bench.Settings(runs=50, noise_sigma=0.1, in_process=True))
    assert cmd.endswith("--runs 50 --noise-sigma 0.1 --in-process")


def test_shards_saved_side_by_side_merge_into_one_table(bench: ModuleType, tmp_path: Path) -> None:
    def shard(seed: int, fails: int) -> object:
        tallies = {s.name: bench.Tally() for s in bench.SCENARIOS}
        for tally in tallies.values():
            tally.runs = 2
            tally.verdicts = {g: {"fail": fails, "pass": 2 - fails} for g in bench.GATES}
            tally.other_fails = dict.fromkeys(bench.GATES, 0)
            tally.changes, tally.calls, tally.rounds = [1.0, 3.0], [1.0, 2.0], {0: 1, 1: 1}
        return bench.Result(bench.Settings(runs=2, seed=seed), tallies, 10.0, 0)

    paths = [str(tmp_path / f"s{seed}.json") for seed in (1, 2)]
    bench.save(shard(1, 2), paths[0])
    bench.save(shard(2, 1), paths[1])
    merged = bench.merge([bench.load(p) for p in paths])
    assert merged.settings.runs == 4
    tally = merged.tallies["p95 latency +25%"]
    assert tally.runs == 4 and tally.rate("default", "fail") == 0.75
    assert tally.rounds == {0: 2, 1: 2} and tally.mean_calls() == 1.5
    assert "| p95 latency +25% | 4 | +2.0% | 75.0% |" in bench.table(merged)
    with pytest.raises(SystemExit, match="distinct"):
        bench.merge([bench.load(paths[0]), bench.load(paths[0])])
