"""The detectors meet their targets on the committed labelled sets (tests/data/detectors)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_benchmark

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "detectors"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("detectors.py")


def test_labelled_sets_are_big_enough_with_hard_negatives() -> None:
    total = negatives = 0
    for name, is_negative in (
        ("pii.jsonl", lambda r: not r["pii"]),
        ("refusal.jsonl", lambda r: r["label"] == "none"),
        ("repetition.jsonl", lambda r: not r["label"]),
        ("echo.jsonl", lambda r: not r["label"]),
    ):
        rows = [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines()]
        total += len(rows)
        negatives += sum(1 for r in rows if is_negative(r))
        assert len({r["text"] for r in rows}) == len(rows), f"duplicate texts in {name}"
    assert total >= 200
    assert negatives >= total / 3


def test_pii_precision_and_recall(bench: ModuleType) -> None:
    overall, *per_kind, spans = bench.pii_scores()
    assert overall.precision >= 0.95 and overall.recall >= 0.95, overall
    assert spans.precision >= 0.95 and spans.recall >= 0.95, spans
    for kind in per_kind:
        assert kind.tp >= 5, f"too few positives for {kind.name}"


def test_refusal_f1(bench: ModuleType) -> None:
    score = bench.refusal_score()
    assert score.f1 >= 0.9, score


def test_repetition_f1(bench: ModuleType) -> None:
    score = bench.repetition_score()
    assert score.f1 >= 0.9, score


def test_echo_f1(bench: ModuleType) -> None:
    score = bench.echo_score()
    assert score.precision == 1.0, score  # an answer is never called an echo here
    assert score.f1 >= 0.9, score
