"""The drift check's statistics on plain data: the silent-change test keeps its
false-alarm rate and finds a change on a fifth of the cases; slopes and control charts
decide as documented; production windows test distributions and rates, Holm-corrected."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pytest_llmguard.budgets import Delta
from pytest_llmguard.config.records import Config, ProductionSettings, TrendBudget
from pytest_llmguard.drift.check import Tonight, check_drift
from pytest_llmguard.drift.history import History, SampleReader
from pytest_llmguard.drift.outputs import output_test
from pytest_llmguard.drift.production import ProductionRecord, production_drift
from pytest_llmguard.drift.trends import (
    control_continuous,
    control_rate,
    judge_trend,
    theil_sen,
)
from pytest_llmguard.store import open_store
from pytest_llmguard.summary import METRICS

WORDS = [
    "refund",
    "order",
    "days",
    "receipt",
    "policy",
    "team",
    "account",
    "payment",
    "window",
    "support",
]


def _answer(rng: random.Random, base: list[str], change: float) -> str:
    return " ".join(w if rng.random() >= change else rng.choice(WORDS) for w in base)


def _nights(rng: random.Random, cases: int, nights: int, variable: float) -> list[dict[str, str]]:
    bases = [[rng.choice(WORDS) for _ in range(20)] for _ in range(cases)]
    varies = [i < cases * variable for i in range(cases)]
    return [
        {f"c{i}": _answer(rng, b, 0.3 if varies[i] else 0.0) for i, b in enumerate(bases)}
        for _ in range(nights)
    ]


def test_silent_change_test_keeps_its_false_alarm_rate() -> None:
    rng = random.Random(5)
    p_values = []
    for _ in range(200):
        tonight, *reference = _nights(rng, cases=40, nights=8, variable=0.5)
        result = output_test(tonight, reference, alpha=0.05, min_reference=3, top=5)
        assert result.informative == 20  # the deterministic half never counts
        p_values.append(result.p_value)
    assert np.mean(np.array(p_values) < 0.05) <= 0.05 + 0.03  # at most alpha (+ noise)
    assert np.mean(np.array(p_values) < 0.5) <= 0.5 + 0.08


def test_a_change_on_a_fifth_of_the_cases_is_found_and_named() -> None:
    rng = random.Random(9)
    tonight, *reference = _nights(rng, cases=200, nights=8, variable=0.3)
    changed = {f"c{i}" for i in range(150, 190)}  # a fifth, all deterministic ones
    moved_tonight = {
        k: (_answer(rng, v.split(), 0.3) if k in changed else v) for k, v in tonight.items()
    }
    result = output_test(moved_tonight, reference, alpha=0.001, min_reference=3, top=5)
    assert result.changed and result.p_value < 1e-12
    assert result.extreme >= 40 and {m.case_key for m in result.moved} <= changed
    first = result.moved[0]
    assert first.before == reference[0][first.case_key] and first.after != first.before
    assert "[-" in first.diff and first.distance > first.usual
    # the same night without the change: nothing
    assert not output_test(tonight, reference, alpha=0.001, min_reference=3, top=5).changed


def test_cases_without_enough_reference_are_not_compared() -> None:
    result = output_test({"a": "x"}, [{"a": "y"}, {}], alpha=0.01, min_reference=2, top=5)
    assert (result.compared, result.p_value) == (0, 1.0)


def test_theil_sen_slope_and_interval() -> None:
    days = list(range(10))
    values = [100 + 2 * d for d in days]
    values[3] = 500  # one odd night does not move a robust slope
    slope = theil_sen(days, values, 0.95)
    assert slope.per_day == pytest.approx(2.0)
    assert slope.low <= 2.0 <= slope.high and slope.points == 10


def test_trend_budget_verdicts() -> None:
    budget = TrendBudget("latency_p95_ms", Delta(0.10, relative=True))
    days = [float(d) for d in range(8)]
    creep = [200 * 1.03**d for d in days]  # +21 % a week
    fail = judge_trend(budget, days, creep, confidence=0.95, strict=False)
    assert fail is not None and fail.verdict == "fail" and fail.size > 1.5
    assert "rising" in fail.reason and "per week budget" in fail.reason
    flat = judge_trend(budget, days, [200.0 + (d % 2) for d in days], confidence=0.95, strict=False)
    assert flat is not None and flat.verdict == "pass"
    assert judge_trend(budget, days[:4], creep[:4], confidence=0.95, strict=False) is None
    minutes = [d / 1440 for d in days]  # runs minutes apart have no weekly slope
    assert judge_trend(budget, minutes, creep, confidence=0.95, strict=False) is None
    sim = TrendBudget("similarity_mean", Delta(0.01, relative=False))  # lower is worse
    falling = judge_trend(sim, days, [0.9 - 0.01 * d for d in days], confidence=0.95, strict=False)
    assert falling is not None and falling.verdict == "fail"


def test_control_chart_uses_student_t_and_the_own_error_floor() -> None:
    mdef = METRICS["latency_p95_ms"]
    reference = [200.0, 205.0, 195.0, 202.0, 198.0, 201.0, 199.0]  # sd ~3.2
    # a naive 3-sigma limit (~210) would call 212 beyond; with 7 nights it is not
    within = control_continuous(mdef, 212.0, reference, 3.0, own_error=0.0)
    assert within is not None and not within.beyond
    beyond = control_continuous(mdef, 230.0, reference, 3.0, own_error=0.0)
    assert beyond is not None and beyond.beyond and "above the control limit" in beyond.reason
    floored = control_continuous(mdef, 230.0, reference, 3.0, own_error=20.0)
    assert floored is not None and not floored.beyond  # tonight's own noise is larger
    assert control_continuous(mdef, 500.0, reference[:2], 3.0, 0.0) is None


def test_control_chart_on_a_rate_is_an_exact_count_test() -> None:
    mdef = METRICS["error_rate"]
    rise = control_rate(mdef, (15, 300), (0, 2100), nights=7, k=3.0)
    assert rise is not None and rise.beyond
    one = control_rate(mdef, (1, 300), (0, 2100), nights=7, k=3.0)
    assert one is not None and not one.beyond


def _records(
    rng: np.random.Generator, start: float, n: int, **shift: float
) -> list[ProductionRecord]:
    out = []
    for i in range(n):
        error = "rate_limit" if rng.random() < shift.get("errors", 0.01) else None
        out.append(
            ProductionRecord(
                timestamp=start + i * (86400.0 / n),
                latency_ms=float(rng.lognormal(6.0, 0.3)),
                input_tokens=int(rng.integers(80, 120)),
                output_tokens=int(rng.integers(40, 60) * shift.get("tokens", 1.0)),
                cost_usd=1e-4,
                output_length=int(rng.integers(150, 250)),
                error_class=error,
                refusal=bool(rng.random() < 0.02),
                feedback_negative=None,
            )
        )
    return out


def test_production_windows_without_a_change_raise_nothing() -> None:
    rng = np.random.default_rng(1)
    records = [r for day in range(8) for r in _records(rng, day * 86400.0, 400)]
    result = production_drift(records, ProductionSettings(), now=8 * 86400.0)
    assert not result.drifted
    names = {t.name for t in result.tests}
    assert {"latency_ms", "output_tokens", "error_rate[rate_limit]", "refusal_rate"} <= names
    assert "Holm" in result.correction and f"all {len(result.tests)} tests" in result.correction


def test_production_windows_find_doubled_tokens_and_more_errors() -> None:
    rng = np.random.default_rng(2)
    records = [r for day in range(7) for r in _records(rng, day * 86400.0, 400)]
    records += _records(rng, 7 * 86400.0, 400, tokens=2.0, errors=0.06)
    result = production_drift(records, ProductionSettings(), now=8 * 86400.0)
    drifted = {t.name for t in result.drifted}
    assert drifted == {"output_tokens", "error_rate[rate_limit]"}
    tokens = next(t for t in result.tests if t.name == "output_tokens")
    assert tokens.psi is not None and tokens.psi > 1 and tokens.p_adjusted >= tokens.p_value


def test_large_windows_need_a_material_shift() -> None:
    rng = np.random.default_rng(3)
    records = [r for day in range(8) for r in _records(rng, day * 86400.0, 3000)]
    # latency 5 % higher in the recent day: significant with 3,000 rows, but immaterial
    records = [
        replace(r, latency_ms=(r.latency_ms or 0.0) * 1.05) if r.timestamp > 7 * 86400.0 else r
        for r in records
    ]
    lenient = ProductionSettings(wasserstein=0.3, psi=0.2)  # 5 % is ~0.17 sd: immaterial
    result = production_drift(records, lenient, now=8 * 86400.0)
    latency = next(t for t in result.tests if t.name == "latency_ms")
    assert latency.p_adjusted < 0.05 and not latency.drifted
    strict = production_drift(records, ProductionSettings(), now=8 * 86400.0)
    assert next(t for t in strict.tests if t.name == "latency_ms").drifted  # 0.17 >= 0.1
    assert "KS and a material shift" in latency.reason
    tiny = production_drift(records[:20], ProductionSettings(), now=8 * 86400.0)
    assert not tiny.tests and tiny.skipped


def test_production_findings_grow_as_the_shift_worsens(tmp_path: Path) -> None:
    """The check turns drifted production tests into findings whose size grows with the
    shift (alerts re-fire on growth), and states the correction in its notes."""

    def night(tokens: float, errors: float) -> dict[str, float]:
        rng = np.random.default_rng(4)
        records = [r for day in range(7) for r in _records(rng, day * 86400.0, 400)]
        records += _records(rng, 7 * 86400.0, 400, tokens=tokens, errors=errors)
        tonight = Tonight(8 * 86400.0, {}, [], {})
        reader = SampleReader(open_store(str(tmp_path), str(tmp_path)))
        result = check_drift(
            Config(rootdir=str(tmp_path)), tonight, History(()), reader, production=records
        )
        assert any("Holm" in note for note in result.notes) and result.production is not None
        return {f.key: f.size for f in result.findings}

    found, worse = night(2.0, 0.06), night(3.0, 0.12)
    keys = {"production:production:output_tokens", "production:production:error_rate[rate_limit]"}
    assert set(found) == set(worse) == keys
    assert all(worse[k] > found[k] > 0 for k in keys)
