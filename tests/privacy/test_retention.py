"""Retention and erasure on a cache of 300 entries and a history of 300 nights: age limits
at the start of a run, ``llmguard purge --older-than`` and ``--containing`` (counts only,
the history loadable afterwards), and the cache's key taken from the unredacted request."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from pytest_llmguard.cache import ResponseCache, request_key
from pytest_llmguard.cli import main
from pytest_llmguard.config.records import (
    CacheConfig,
    Config,
    DriftConfig,
    HistoryConfig,
    RedactConfig,
)
from pytest_llmguard.drift.history import SampleReader, load_history, save_night
from pytest_llmguard.drift.night import Digest, TargetDigest
from pytest_llmguard.outcome import Outcome
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.privacy.retention import enforce_retention, parse_age
from pytest_llmguard.records import Observation, ScoredObservation
from pytest_llmguard.report.json_report import build_report, dumps_report
from pytest_llmguard.store import FileRunStore, RunMeta, load_run
from pytest_llmguard.summary import summarize

DAY = 86400.0
NOW = float(int(time.time()))  # `llmguard purge` counts ages from the clock
SECRET = "erase.me@example.com"
N = 300


@pytest.fixture(autouse=True)
def _no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of durable saves: the fsyncs are the machine's time, not what is tested."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def _obs(i: int, output: str) -> Observation:
    return Observation(f"s.yaml::c{i}", "prod", 0, "m", output, 100.0 + i, output_tokens=5)


def _fill_cache(cache: ResponseCache) -> list[str]:
    keys = []
    for i in range(N):
        key = request_key({"messages": [f"question {i}"]}, 0)
        # every tenth entry's prompt holds the secret, every tenth (others) its output
        prompt = [f"I am {SECRET}" if i % 10 == 0 else f"question {i}"]
        output = f"mail {SECRET.upper()} now" if i % 10 == 5 else f"answer {i}"
        age = (40 if i % 2 else 1) * DAY  # odd entries are 40 days old
        with pytest.MonkeyPatch.context() as patch:  # an entry's age is its stored_at
            patch.setattr(time, "time", lambda age=age: NOW - age)
            cache.put(key, _obs(i, output), prompt)
        keys.append(key)
    cache.close()  # the recording run ended (a pack still being written is never purged)
    return keys


def _cache_text(directory: Path) -> str:
    """Every byte of every file of the cache (packs, and anything else it wrote)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    assert any(p.suffix == ".pack" for p in files), "the cache was written"
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in files)


def _hit(cache: ResponseCache, key: str) -> Observation | None:
    return cache.get(key, case_key="s.yaml::c0", target="prod", repeat_index=0)


def test_cache_age_limit_at_the_start_of_a_run_and_erasure(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache", "record")
    keys = _fill_cache(cache)
    config = Config(rootdir=str(tmp_path), cache=CacheConfig(max_age_days=30))
    store = FileRunStore(tmp_path / "history")
    enforce_retention(config, store, cache, now=NOW)
    left = [k for k in keys if _hit(cache, k) is not None]
    assert left == keys[::2]  # the 40-day-old half went, the rest still hits
    assert cache.purge(containing=SECRET) == 30  # the young prompts holding it (outputs: old)
    remaining = [k for k in keys if _hit(cache, k) is not None]
    assert len(remaining) == 120
    assert SECRET.casefold() not in _cache_text(tmp_path / "cache").casefold()


def test_redacted_entries_still_hit_and_say_what_was_removed(tmp_path: Path) -> None:
    redactor = Redactor.of(RedactConfig(kinds=("email",)))
    cache = ResponseCache(tmp_path / "cache", "record", redactor)
    key = request_key({"messages": [f"I am {SECRET}"]}, 0)  # the request as sent
    cache.put(key, _obs(0, f"Hello {SECRET}"), [f"I am {SECRET}"])
    stored = _cache_text(tmp_path / "cache")
    assert SECRET not in stored and "[REDACTED:email]" in stored
    hit = _hit(cache, key)
    assert hit is not None and hit.cached and hit.redacted == ("email",)
    assert hit.output == "Hello [REDACTED:email]"


def _scored(night: int) -> list[ScoredObservation]:
    out = []
    for i in range(4):
        text = f"night {night} answer {i}" + (
            f" for {SECRET}" if night % 50 == 0 and i == 1 else ""
        )
        text += ' He said "halt now".' if night == 290 and i == 2 else ""
        out.append(ScoredObservation(_obs(i, text), (), {"similarity": 0.5}))
    return out


@pytest.fixture(scope="module")
def saved_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 nights, made once (each test works on its own copy)."""
    directory = tmp_path_factory.mktemp("nights")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        _make_history(FileRunStore(directory))
    return directory


def _history(directory: Path, saved: Path) -> FileRunStore:
    shutil.copytree(saved, directory)
    return FileRunStore(directory)


def _make_history(store: FileRunStore) -> None:
    for night in range(1, N + 1):
        scored = _scored(night)
        summary = summarize("prod", "sim", "m", scored)
        outcome = Outcome("a", "b", 1.0, None, {"prod": summary}, (), "pass", tuple(scored), {}, {})
        started = NOW - (N - night) * DAY  # the newest night is today
        findings = (f"moved: answer for {SECRET}",) if night % 50 == 0 else ()
        digest = Digest(started, {"prod": TargetDigest.of(summary)}, "ok", findings)
        document = dumps_report(build_report(outcome))
        save_night(store, document, RunMeta(started), digest, scored, {})


def test_history_retention_count_and_age_at_the_start_of_a_run(
    tmp_path: Path, saved_history: Path
) -> None:
    store = _history(tmp_path / "history", saved_history)
    nights = _history(tmp_path / "nights", saved_history)  # drift.history kept apart
    config = Config(
        rootdir=str(tmp_path),
        history=HistoryConfig(dir="history", keep=250, max_age_days=100),
        drift=DriftConfig(history="nights"),
    )
    enforce_retention(config, store, ResponseCache(tmp_path / "cache", "off"), now=NOW)
    assert len(nights.runs()) == 101
    runs = store.runs()
    assert len(runs) == 101  # age (100 days) is the stricter limit here
    assert min(r.started_at for r in runs) >= NOW - 100 * DAY
    names = os.listdir(tmp_path / "history")
    assert len([n for n in names if n.endswith(".samples.json")]) == 101  # attachments too
    assert len(load_history(store).nights) == 101


def test_llmguard_purge_erases_a_text_and_old_runs_and_keeps_the_history_loadable(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    saved_history: Path,
) -> None:
    store = _history(tmp_path / ".llmguard" / "history", saved_history)
    cache = ResponseCache(tmp_path / ".llmguard" / "cache", "record")
    _fill_cache(cache)
    (tmp_path / "llmguard.yaml").write_text("targets: {prod: {provider: sim, model: sim-stable}}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["purge", "--containing", SECRET]) == 0
    said = capsys.readouterr().out
    assert SECRET not in said
    assert said.splitlines() == [
        "cache: 60 entries removed",  # 30 prompts and 30 outputs (case-insensitive)
        "saved runs: 0 run(s) removed, 6 case(s) removed from kept runs",
    ]
    for path in (tmp_path / ".llmguard").rglob("*"):  # the cache's packs included
        if path.is_file():
            assert SECRET.casefold() not in path.read_text().casefold(), path
    history = load_history(store)
    assert len(history.nights) == N and not history.warnings
    reader = SampleReader(store)
    night = next(n for n in history.nights if n.ref.run_id == "00050")
    samples = reader.read(night)
    assert samples is not None and not reader.warnings
    assert len(samples.scored["prod"]) == 3  # its case with the secret is gone
    run = load_run(night.ref.location)
    assert len(run.scored) == 3 and any("erased on request" in n for n in run.document["notes"])
    # a text that JSON escapes in the file (quotes) is found all the same
    assert main(["purge", "--containing", 'SAID "HALT']) == 0
    assert "saved runs: 0 run(s) removed, 1 case(s) removed" in capsys.readouterr().out
    # by age: runs and cache entries older than 30 days
    assert main(["purge", "--older-than", "soon"]) == 2
    assert main(["purge", "--older-than", "30d"]) == 0
    assert "cache: 120 entries removed" in capsys.readouterr().out
    assert len(store.runs()) == 30  # 0 to 29 days old
    assert all(json.loads(Path(r.location).read_text()) for r in store.runs())


def test_ages() -> None:
    assert (
        parse_age("30d") == 30 * DAY
        and parse_age("12h") == 12 * 3600
        and parse_age("2w") == 14 * DAY
    )
    with pytest.raises(ValueError):
        parse_age("30 days")


def test_a_run_enforces_the_limits_before_its_first_call(
    pytester: pytest.Pytester, saved_history: Path
) -> None:
    root = pytester.path
    _history(root / ".llmguard" / "history", saved_history)
    cache = ResponseCache(root / ".llmguard" / "cache", "record")
    keys = _fill_cache(cache)
    (root / "golden_sets").mkdir()
    (root / "golden_sets" / "one.yaml").write_text(
        "name: one\ncases:\n  - id: c1\n    prompt: hello\n"
    )
    (root / "llmguard.yaml").write_text(
        "targets: {prod: {provider: sim, model: sim-stable}}\n"
        "sim: {latency_scale: 0.05}\n"
        "cache: {max_age_days: 30}\n"  # mode off: nothing is read or written, still enforced
        "history: {keep: 20}\n"
    )
    result = pytester.runpytest("--llmguard", "-p", "no:randomly", "golden_sets")
    result.assert_outcomes(passed=1)
    assert [k for k in keys if _hit(cache, k) is not None] == keys[::2]
    assert len(FileRunStore(root / ".llmguard" / "history").runs()) == 20
