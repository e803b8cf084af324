"""The run store: numbered runs, atomic and race-free saves, lookup, retention; and the
plugin's `--llmguard-save` (no value) / `--llmguard-baseline latest` round trip."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.store import FileRunStore, RunMeta, is_store_ref, load_saved, open_store
from tests.test_plugin import write_project

DAY = 86400.0


def _document(target: str = "candidate", partial: bool = False) -> str:
    case = {
        "id": "c1",
        "key": "golden_sets/s.yaml::c1",
        "set": "s",
        "set_path": "golden_sets/s.yaml",
        "tags": [],
        "target": target,
        "repeat_index": 0,
        "model": "m",
        "passed": True,
        "output": "hello",
        "latency_ms": 10.0,
        "error": None,
        "checks": [],
        "scores": {},
    }
    return json.dumps(
        {
            "schema_version": 1,
            "run": {"partial": partial, "started_at": "2026-12-01T00:00:00+00:00"},
            "verdict": "pass",
            "targets": {target: {"provider": "sim", "model": "m"}},
            "comparisons": [],
            "cases": [case],
        }
    )


def test_saves_are_numbered_and_found_by_latest_id_and_commit(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path / "history")
    assert store.runs() == []
    a = store.save(_document(), RunMeta(1_700_000_000.0, "a" * 40))
    b = store.save(_document(), RunMeta(1_700_000_100.0, "b" * 40))
    p = store.save(_document(partial=True), RunMeta(1_700_000_200.0, None, partial=True))
    assert [r.run_id for r in store.runs()] == ["00001", "00002", "00003"]
    assert Path(a.location).name == "00001-20231114T221320Z-aaaaaaaaaaaa.json"
    assert Path(p.location).name.endswith("-nogit.partial.json")
    assert store.resolve("latest") == b  # a partial run is never "latest"
    assert store.resolve("1") == a and store.resolve("00002") == b
    assert store.resolve("aaaaaaa") == a and store.resolve("b" * 40) == b
    assert store.load("latest").summaries["candidate"].n == 1
    with pytest.raises(SavedRunError, match="no saved run 'ccccccc'"):
        store.resolve("ccccccc")
    with pytest.raises(SavedRunError, match="partial"):
        store.load("3")


def _save_many(directory: str, count: int) -> None:
    store = FileRunStore(directory)
    for _ in range(count):
        store.save(_document(), RunMeta(time.time()))


def test_concurrent_saves_never_overwrite_each_other(tmp_path: Path) -> None:
    directory = str(tmp_path / "history")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_save_many, args=(directory, 10)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    runs = FileRunStore(directory).runs()
    assert len(runs) == 40
    assert len({r.run_id for r in runs}) == 40
    assert all(json.loads(Path(r.location).read_text())["schema_version"] == 1 for r in runs)
    assert not list(Path(directory).glob("*.tmp"))


def test_retention_keeps_the_newest_and_drops_the_old(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path)
    now = 1_800_000_000.0
    for age_days in (40, 20, 10, 5, 1):
        store.save(_document(), RunMeta(now - age_days * DAY))
    removed = store.prune(keep=4, max_age_days=None, now=now)
    assert [r.run_id for r in removed] == ["00001"]
    removed = store.prune(keep=None, max_age_days=7, now=now)
    assert [r.run_id for r in removed] == ["00002", "00003"]
    assert [r.run_id for r in store.runs()] == ["00004", "00005"]
    assert store.save(_document(), RunMeta(now)).run_id == "00006"  # numbers never reused


def test_attachments_live_and_die_with_their_run(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path)
    now = 1_800_000_000.0
    refs = [
        store.save(
            _document(), RunMeta(now - (3 - i) * DAY), attachments={"digest": f'{{"i": {i}}}'}
        )
        for i in range(3)
    ]
    partial = store.save(
        _document(partial=True), RunMeta(now, partial=True), attachments={"digest": "{}"}
    )
    assert [r.run_id for r in store.runs()] == ["00001", "00002", "00003", "00004"]  # not listed
    assert store.attachment(refs[1], "digest") == b'{"i": 1}'
    assert store.attachment(partial, "digest") == b"{}"
    assert store.attachment(refs[1], "other") is None
    assert Path(refs[0].location).with_suffix(".digest.json").exists()
    # an attachment whose run was never written (a crash between the two writes)
    orphan = tmp_path / "00002-20260101T000000Z-nogit.digest.json"
    orphan.write_text("{}")
    removed = store.prune(keep=2, max_age_days=None, now=now)
    assert [r.run_id for r in removed] == ["00001", "00002"]
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert not any(n.startswith(("00001-", "00002-")) for n in names), names
    assert store.attachment(refs[2], "digest") == b'{"i": 2}'
    assert Path(partial.location).exists()  # a partial run is no attachment
    with pytest.raises(ValueError, match="attachment name"):
        store.save(_document(), RunMeta(now), attachments={"partial": "{}"})


def test_damaged_and_foreign_files_are_clear_errors_or_ignored(tmp_path: Path) -> None:
    store = FileRunStore(tmp_path)
    ok = store.save(_document(), RunMeta(1.0))
    (tmp_path / "notes.txt").write_text("not a run")
    (tmp_path / "00009-20260101T000000Z-nogit.json").write_text('{"schema_version": 1, "ca')
    assert [r.run_id for r in store.runs()] == [ok.run_id, "00009"]
    with pytest.raises(SavedRunError, match="not a readable JSON report"):
        store.load("latest")
    bad = json.loads(_document())
    bad["cases"][0]["latency_ms"] = {"nested": True}
    (tmp_path / "x.json").write_text(json.dumps(bad))
    with pytest.raises(SavedRunError, match=r"cases\[0\] is malformed"):
        load_saved(str(tmp_path / "x.json"), store)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(SavedRunError, match="is a directory"):
        load_saved(str(tmp_path / "dir.json"), store)


def test_refs_and_paths_are_told_apart(tmp_path: Path) -> None:
    assert is_store_ref("latest") and is_store_ref("12") and is_store_ref("abc1234")
    assert not is_store_ref("runs/a.json") and not is_store_ref("a.json")
    assert open_store("file://.llmguard/h", str(tmp_path)).location == str(tmp_path / ".llmguard/h")


def test_save_to_the_store_then_compare_with_latest(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(
        pytester,
        sim_url,
        extra="compare: {baseline: baseline, candidate: candidate}\n"
        "gate: {min_cases: 3}\nbudgets: {similarity_mean: {max_decrease: 0.5}}\n",
    )
    empty = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-baseline", "latest")
    empty.stdout.fnmatch_lines(["*no saved run in * yet: nothing to compare against*"])
    saved = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-save")
    assert saved.ret == 0
    (run,) = (pytester.path / ".llmguard" / "history").glob("00001-*.json")
    result = pytester.runpytest(
        "--llmguard", "golden_sets", "--llmguard-baseline", "latest", "-p", "no:cacheprovider"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*compared: candidate candidate (sim-candidate) vs baseline saved run run 00001*",
            "*target 'baseline' not called: the baseline is run 00001*",
        ]
    )
    report = json.loads((pytester.path / "report.json").read_text())
    assert {c["target"] for c in report["cases"]} == {"candidate"}  # not paid twice
    assert report["baseline"]["source"] == "saved"
    assert report["comparisons"][0]["baseline"] == "run 00001"
    assert run.exists()
