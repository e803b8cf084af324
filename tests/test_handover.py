from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmguard.execution.handover import (
    Worker,
    own_units,
    publish,
    published_rounds,
    wait_for_partition,
)
from pytest_llmguard.records import Case, Message, Observation, ScoredObservation
from pytest_llmguard.runner import CallUnit, plan_calls


def _case(i: int, repeat: int = 1) -> Case:
    return Case("s", "s.yaml", f"c{i}", (Message("user", f"q{i}"),), repeat=repeat)


def test_plan_interleaves_targets_and_expands_repeats() -> None:
    cases = [_case(0, repeat=2), _case(1)]
    selected = [(c, t) for c in cases for t in ("base", "cand")]
    units = plan_calls(selected)
    # Grouped by case and repeat, both targets in each group; which target goes first
    # in a group is balanced (tests/test_call_order.py), not always the baseline.
    groups = [units[i : i + 2] for i in range(0, len(units), 2)]
    assert [(g[0].case.id, g[0].repeat_index) for g in groups] == [("c0", 0), ("c0", 1), ("c1", 0)]
    for g in groups:
        assert {u.target for u in g} == {"base", "cand"}
        assert g[0].repeat_index == g[1].repeat_index and g[0].case is g[1].case


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_partitions_cover_every_unit_exactly_once(count: int) -> None:
    selected = [(_case(i, repeat=1 + i % 3), t) for i in range(25) for t in ("a", "b")]
    units = plan_calls(selected)
    parts = [own_units(units, Worker(i, count)) for i in range(count)]
    flat = [u for p in parts for u in p]
    assert sorted(map(_ident, flat)) == sorted(map(_ident, units))
    # all targets and repeats of a case stay on one worker (interleaving survives)
    for p in parts:
        keys = {u.case.key for u in p}
        assert all(u.case.key in keys for u in units if u.case.key in keys)
        assert len([u for u in units if u.case.key in keys]) == len(p)
    sizes = [len({u.case.key for u in p}) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def _ident(u: CallUnit) -> tuple[str, str, int]:
    return (u.case.key, u.target, u.repeat_index)


def test_publish_then_wait(tmp_path: Path) -> None:
    obs = Observation("s.yaml::c0", "a", 0, "m", "out", 10.0)
    publish(Worker(1, 2, str(tmp_path)), [ScoredObservation(obs)])
    got = wait_for_partition(str(tmp_path), 1, deadline_s=1.0)
    assert got[0].observation == obs


def test_wait_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(TimeoutError, match="worker gw3 did not publish"):
        wait_for_partition(str(tmp_path), 3, deadline_s=0.05)


def test_an_interrupted_controller_reads_how_many_rounds_were_published(tmp_path: Path) -> None:
    # It judges at the level of the last look the workers made (sequential gate).
    assert published_rounds(str(tmp_path)) == 0
    obs = Observation("s.yaml::c0", "a", 0, "m", "out", 10.0)
    for worker, round_index in ((0, 0), (1, 0), (0, 1), (1, 12)):
        publish(Worker(worker, 2, str(tmp_path)), [ScoredObservation(obs)], round_index)
    assert published_rounds(str(tmp_path)) == 12


def test_published_results_are_redacted_on_disk(tmp_path: Path) -> None:
    from pytest_llmguard.config.records import RedactConfig
    from pytest_llmguard.privacy.redactor import Redactor
    from pytest_llmguard.records import CheckResult, ErrorRecord

    obs = Observation("s::a", "t", 0, "m", "mail alice@example.org now", 1.0)
    error = ErrorRecord("client_error", "HTTP 400: bad bob@example.net")
    failed = Observation("s::b", "t", 0, "m", None, None, error=error)
    check = CheckResult("no_pii", False, "no_pii: found email (1): alice@example.org")
    scored = [ScoredObservation(obs, (check,)), ScoredObservation(failed, ())]
    worker = Worker(index=0, count=2, run_dir=str(tmp_path))
    publish(worker, scored, 0, Redactor.of(RedactConfig(kinds=("email",))))
    text = (tmp_path / "scored-gw0-r0.json").read_text()
    assert "example.org" not in text and "example.net" not in text
    loaded = wait_for_partition(str(tmp_path), 0, 1.0)
    assert [s.passed for s in loaded] == [False, False]  # the verdicts as they were made
    assert loaded[0].observation.redacted == ("email",)
    publish(worker, scored, 1)  # without redact: as it was
    assert "alice@example.org" in (tmp_path / "scored-gw0-r1.json").read_text()
