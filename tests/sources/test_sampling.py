"""Sampling: uniform, seeded, independent of record order, stratified with a minimum,
windowed, near-duplicates dropped."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmguard.config import SampleConfig
from pytest_llmguard.records import Message, Provenance
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.sources.sampling import allocate, draw

NOW = 1_746_100_800.0 + 30 * 86400


def record(
    i: int, *, model: str = "m1", question: str | None = None, at: float | None = None
) -> LogRecord:
    return LogRecord(
        messages=(
            Message("user", question or f"question number {i} about topic {i * 7919 % 1000}"),
        ),
        response=f"answer {i}",
        provenance=Provenance(file="logs/app.jsonl", line=i + 1, request_id=f"req-{i}"),
        model=model,
        started_at=NOW - 86400 * (i % 20) if at is None else at,
    )


def ids(sample: object) -> list[str]:
    return [r.provenance.request_id or "" for r in sample.records]  # type: ignore[attr-defined]


def test_same_seed_same_sample_whatever_the_order() -> None:
    records = [record(i) for i in range(500)]
    config = SampleConfig(n=40, seed=7, dedupe=None)
    first = draw(records, config, now=NOW)
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    assert ids(draw(shuffled, config, now=NOW)) == ids(first)
    assert ids(draw(reversed(records), config, now=NOW)) == ids(first)
    # a record read twice (two overlapping exports) counts once
    assert ids(draw(records + records[:100], config, now=NOW)) == ids(first)
    assert len(first.records) == 40 and first.seen == 500
    assert ids(draw(records, SampleConfig(n=40, seed=8, dedupe=None), now=NOW)) != ids(first)


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(60))), st.integers(0, 3))
def test_order_independence_property(order: list[int], seed: int) -> None:
    records = [record(i, model=f"m{i % 3}") for i in range(60)]
    config = SampleConfig(n=12, by=("model",), seed=seed, dedupe=0.9)
    expected = ids(draw(records, config, now=NOW))
    assert ids(draw([records[i] for i in order], config, now=NOW)) == expected


def test_uniform_every_record_equally_likely() -> None:
    records = [record(i) for i in range(100)]
    counts: Counter[str] = Counter()
    for seed in range(400):
        counts.update(ids(draw(records, SampleConfig(n=10, seed=seed, dedupe=None), now=NOW)))
    # each record expected 40 times; a 4-sigma band around it
    assert len(counts) == 100
    assert min(counts.values()) > 40 - 4 * 6 and max(counts.values()) < 40 + 4 * 6


def test_stratified_with_a_minimum_per_stratum() -> None:
    records = [record(i, model="big") for i in range(300)] + [
        record(1000 + i, model="rare") for i in range(4)
    ]
    sample = draw(records, SampleConfig(n=20, by=("model",), min_per_stratum=3), now=NOW)
    models = Counter(r.model for r in sample.records)
    assert models == {"big": 17, "rare": 3}
    assert dict((s, (size, taken)) for s, size, taken in sample.strata) == {
        "big": (300, 17),
        "rare": (4, 3),
    }
    # proportional without the minimum
    plain = draw(records, SampleConfig(n=20, by=("model",), min_per_stratum=0), now=NOW)
    assert Counter(r.model for r in plain.records) == {"big": 20}


def test_allocate_shares_in_proportion_and_caps_at_what_is_there() -> None:
    assert allocate({"a": 600, "b": 300, "c": 100}, {"a": 50, "b": 50, "c": 50}, 10, 0) == {
        "a": 6,
        "b": 3,
        "c": 1,
    }
    assert allocate({"a": 10, "b": 10}, {"a": 2, "b": 50}, 10, 1) == {"a": 2, "b": 8}
    assert allocate({"a": 1, "b": 1}, {"a": 1, "b": 1}, 10, 5) == {"a": 1, "b": 1}
    assert sum(allocate({"a": 1, "b": 1, "c": 1}, {"a": 9, "b": 9, "c": 9}, 10, 0).values()) == 10


def test_time_window() -> None:
    records = [record(i, at=NOW - 86400 * i) for i in range(30)] + [
        LogRecord(
            messages=(Message("user", "no time"),),
            response="x",
            provenance=Provenance(file="f", request_id="untimed"),
        )
    ]
    sample = draw(records, SampleConfig(n=100, since="7d", dedupe=None), now=NOW)
    assert sorted(int(i.split("-")[1]) for i in ids(sample)) == list(range(8))
    assert sample.outside_window == 23  # 22 older, and one without a timestamp
    window = SampleConfig(n=100, since="2025-05-02", until="2025-05-03T00:00:00Z", dedupe=None)
    dated = [record(i, at=1_746_100_800.0 + 3600 * i) for i in range(72)]
    kept = draw(dated, window, now=NOW).records
    assert len(kept) == 25  # 2025-05-02T00:00 .. 2025-05-03T00:00 inclusive, hourly


def test_near_duplicates_are_dropped_at_the_threshold() -> None:
    base = "How long do I have to ask for a refund on my order?"
    records = [record(i, question=base + " " * (i % 3)) for i in range(10)]
    records += [record(100, question="How long do I have to ask for a refund on my orders?")]
    records += [record(200, question="Do you ship to Canada?")]
    sample = draw(records, SampleConfig(n=10, dedupe=0.95), now=NOW)
    assert len(sample.records) == 2 and sample.duplicates >= 1
    loose = draw(records, SampleConfig(n=10, dedupe=None), now=NOW)
    assert len(loose.records) == 10
    strict = draw(records, SampleConfig(n=10, dedupe=0.999), now=NOW)
    assert len(strict.records) == 3  # the plural question differs by one letter


def test_every_extracted_field_stratifies_the_fixture_logs() -> None:
    from pathlib import Path

    from pytest_llmguard.config import LogsConfig, LogSourceConfig
    from pytest_llmguard.config.records import STRATA_FIELDS
    from pytest_llmguard.sources.loading import read_records
    from pytest_llmguard.sources.tally import Tally

    root = Path(__file__).resolve().parents[2]
    logs = LogsConfig(sources=(LogSourceConfig(path="tests/data/logs"),))
    records = list(read_records(logs, str(root), Tally()))
    for name in STRATA_FIELDS:
        strata = Counter(r.field(name) for r in records)
        assert len(strata) >= 2, name  # the fixtures vary in every field
        config = SampleConfig(n=len(strata) + 2, by=(name,), min_per_stratum=1, dedupe=None)
        sample = draw(records, config, now=NOW)
        assert {r.field(name) for r in sample.records} == set(strata), name
        assert {s for s, _, _ in sample.strata} == set(strata), name
