"""Fair call order: which target goes first in a case is balanced, so a server's prompt
cache favours neither side (issue #16)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pytest_llmguard.config import load_config
from pytest_llmguard.golden import load_golden_sets
from pytest_llmguard.records import Case, Message
from pytest_llmguard.runner import CallUnit, fair_order, plan_calls
from pytest_llmguard.session import GuardSession


def _case(i: int, repeat: int = 1) -> Case:
    return Case("s", "s.yaml", f"c{i}", (Message("user", f"q{i}"),), repeat=repeat)


def _firsts(units: list[CallUnit]) -> Counter[str]:
    seen: set[tuple[str, int]] = set()
    firsts: Counter[str] = Counter()
    for u in units:
        group = (u.case.key, u.repeat_index)
        if group not in seen:
            seen.add(group)
            firsts[u.target] += 1
    return firsts


@pytest.mark.parametrize("targets", [("base", "cand"), ("a", "b", "c")])
@pytest.mark.parametrize("n_cases", [1, 7, 40])
def test_each_target_goes_first_in_an_equal_share_of_groups(
    targets: tuple[str, ...], n_cases: int
) -> None:
    cases = [_case(i, repeat=1 + i % 2) for i in range(n_cases)]
    units = plan_calls([(c, t) for c in cases for t in targets])
    groups = sum(1 + i % 2 for i in range(n_cases))
    firsts = _firsts(units)
    assert sum(firsts.values()) == groups
    counts = [firsts.get(t, 0) for t in targets]
    assert max(counts) - min(counts) <= 1, firsts
    # every (case, repeat) group stays together, holding every target once
    for start in range(0, len(units), len(targets)):
        group = units[start : start + len(targets)]
        assert len({(u.case.key, u.repeat_index) for u in group}) == 1
        assert sorted(u.target for u in group) == sorted(targets)
    # cases keep their order; repeats of a case stay in order
    order = [u.case.id for u in units]
    assert sorted(dict.fromkeys(order), key=lambda c: int(c[1:])) == list(dict.fromkeys(order))


def test_the_order_is_seeded_and_not_tied_to_case_order() -> None:
    cases = [_case(i) for i in range(40)]
    selected = [(c, t) for c in cases for t in ("base", "cand")]
    first = [u.target for u in plan_calls(selected)][::2]
    assert first == [u.target for u in plan_calls(selected)][::2]  # deterministic
    assert first != [u.target for u in plan_calls(selected, seed=1)][::2]
    # not a plain alternation, which would line up with any alternation in the cases
    assert first != ["base", "cand"] * 20 and first != ["cand", "base"] * 20


def test_fair_order_of_a_partial_selection_keeps_every_unit() -> None:
    cases = [_case(i) for i in range(5)]
    selected = [(c, "a") for c in cases] + [(cases[0], "b"), (cases[3], "b")]
    units = plan_calls(selected)
    assert sorted((u.case.id, u.target) for u in units) == sorted((c.id, t) for c, t in selected)
    assert fair_order(units) != [] and len(fair_order(units)) == len(units)


GOLDEN = "name: aa\ncases:\n" + "".join(
    f'  - id: q{i}\n    prompt: "Question number {i}: what is {i} plus {i}?"\n'
    f'    expected: "{i} plus {i} is {2 * i}."\n'
    for i in range(30)
)


def _aa_session(root: Path) -> GuardSession:
    (root / "golden_sets").mkdir()
    (root / "golden_sets" / "aa.yaml").write_text(GOLDEN)
    # Two identical targets, listed candidate first: in config order the candidate
    # would always be the cold call and the baseline the warm one.
    (root / "llmguard.yaml").write_text(
        "golden_sets: [golden_sets/]\n"
        "targets:\n"
        "  first: {provider: sim, model: cached}\n"
        "  second: {provider: sim, model: cached}\n"
        "compare: {baseline: second, candidate: first}\n"
        "sim: {latency_scale: 0.25, noise_sigma: 0.05,\n"
        "      models: {cached: {base: sim-stable, prefix_cache: 0.4, latency_sigma: 0}}}\n"
        "run: {concurrency: 1, timeout_s: 10}\n"
        "budgets: {latency_mean_ms: {max_increase: '25%'}}\n"
        "gate: {min_cases: 20}\n"
    )
    config = load_config(str(root))
    return GuardSession(config, load_golden_sets(config))


def test_a_same_model_comparison_passes_against_a_prompt_caching_server(tmp_path: Path) -> None:
    session = _aa_session(tmp_path)
    cases = [c for s in session.golden_sets for c in s.cases]
    units = session.plan([(c, t) for c in cases for t in ("first", "second")])
    session.call(units)
    judgement = session.assess(session.all_results())
    (latency,) = [c for c in judgement.comparisons if c.metric == "latency_mean_ms"]
    assert latency.verdict == "pass", latency.reason
    # The cache is real: the calls that went second were faster.
    went_first: dict[str, str] = {}
    for u in units:
        went_first.setdefault(u.case.key, u.target)
    latency_of = {
        (s.observation.case_key, s.observation.target): s.observation.latency_ms or 0.0
        for s in session.all_results()
    }
    cold = [latency_of[key, first] for key, first in went_first.items()]
    warm = [
        latency_of[key, "first" if first == "second" else "second"]
        for key, first in went_first.items()
    ]
    assert sum(warm) < sum(cold)  # (40% faster when idle; the load may eat much of it)
    assert Counter(went_first.values()) == {"first": 15, "second": 15}


def test_in_config_order_the_same_comparison_fails(tmp_path: Path) -> None:
    # The other side of the test above: without the rotation (every case calls the
    # listed-first target, the candidate, cold) the caching server fails an A/A gate.
    session = _aa_session(tmp_path)
    cases = [c for s in session.golden_sets for c in s.cases]
    session.call([CallUnit(c, t) for c in cases for t in ("first", "second")])
    judgement = session.assess(session.all_results())
    (latency,) = [c for c in judgement.comparisons if c.metric == "latency_mean_ms"]
    assert latency.verdict == "fail", latency.reason
