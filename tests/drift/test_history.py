"""The history is read defensively: a damaged or partial night is skipped with a
warning, damaged samples fall back to the whole report, and nothing crashes the check."""

from __future__ import annotations

from pathlib import Path

from pytest_llmguard.drift.history import SampleReader, load_history, save_night
from pytest_llmguard.drift.night import Digest, TargetDigest, read_samples, samples_json
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.records import CheckResult, ErrorRecord, Observation, ScoredObservation
from pytest_llmguard.report.json_report import build_report, dumps_report
from pytest_llmguard.store import FileRunStore, RunMeta
from pytest_llmguard.summary import summarize


def _scored(night: int) -> list[ScoredObservation]:
    out = []
    for i in range(5):
        error = ErrorRecord("rate_limit", "429", 429) if i == 4 else None
        obs = Observation(
            f"s.yaml::c{i}",
            "prod",
            0,
            "m",
            None if error else f"answer {i} night {night}",
            None if error else 100.0 + i,
            input_tokens=10,
            output_tokens=None if error else 5 + i,
            cost_usd=None if error else 1e-5,
            error=error,
        )
        checks = (CheckResult("contains", i != 2, "x"),)
        out.append(ScoredObservation(obs, checks, {"similarity": 0.5 + i / 10}))
    return out


def _save(store: FileRunStore, night: int, *, partial: bool = False) -> None:
    scored = _scored(night)
    summary = summarize("prod", "sim", "m", scored)
    outcome = Outcome("a", "b", 1.0, None, {"prod": summary}, (), "pass", tuple(scored), {}, {})
    digest = Digest(night * 86400.0, {"prod": TargetDigest.of(summary)}, verdict="ok")
    meta = RunMeta(night * 86400.0, partial=partial)
    save_night(store, dumps_report(build_report(outcome)), meta, digest, scored, {})


def test_samples_round_trip_every_observation() -> None:
    scored = _scored(1)
    back = read_samples(samples_json(scored, {"s.yaml::c0": "abc"}).encode(), repeat_base=7000)
    rebuilt = back.scored["prod"]
    assert [s.passed for s in rebuilt] == [s.passed for s in scored]
    assert [s.observation.output for s in rebuilt] == [s.observation.output for s in scored]
    assert rebuilt[4].observation.error is not None
    assert rebuilt[4].observation.error.cls == "rate_limit"
    assert {s.observation.repeat_index for s in rebuilt} == {7000}
    assert back.fingerprints["s.yaml::c0"] == "abc"
    a = summarize("prod", "sim", "m", scored).metrics
    b = summarize("prod", "sim", "m", rebuilt).metrics
    assert a == b


def test_damaged_partial_and_foreign_runs(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path)
    for night in (1, 2, 3, 4):
        _save(store, night)
    _save(store, 5, partial=True)
    store.save('{"schema_version": 1, "cases": []}', RunMeta(6 * 86400.0))  # not a night
    digests = sorted(tmp_path.glob("*.digest.json"))
    digests[1].write_text("[1, 2")  # night 2: damaged digest
    samples = sorted(tmp_path.glob("*.samples.json"))
    samples[2].write_text('{"format": 1, "targets": {"prod": {"case": [1]}}}')  # night 3
    samples[3].unlink()  # night 4: no samples
    Path(store.runs()[3].location).write_text("{")  # and no readable report
    history = load_history(store)
    assert [n.ref.run_id for n in history.nights] == ["00001", "00003", "00004"]
    assert history.other_runs == 1
    assert any("00002 skipped: damaged night digest" in w for w in history.warnings)
    assert any("00005 skipped: an interrupted (partial) night" in w for w in history.warnings)
    reader = SampleReader(store)
    night1, night3, night4 = history.nights
    assert reader.read(night1) is not None
    fallback = reader.read(night3)  # damaged samples: read from the whole report
    assert fallback is not None and len(fallback.scored["prod"]) == 5
    assert reader.read(night4) is None  # neither: skipped
    assert any("read from its whole report instead" in w for w in reader.warnings)
    assert any("run 00004 skipped" in w for w in reader.warnings)
