"""--llmguard-shard I/N and `llmguard merge`: the merged shards get the verdicts of one big
run on the same observations (replayed from one recorded cache), judged by verdict.assess."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.cli import main
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.shards import merge_shards, shard_of
from tests.test_plugin import GATED, write_project

CASES = "\n".join(
    f"""  - id: q{i}
    prompt: "How long does shipping take to country {i}?"
    checks: [{{max_output_tokens: {400 + i}}}]"""
    for i in range(12)
)
GOLDEN = f"name: many\ncases:\n{CASES}\n"
CONFIG = GATED + "cache: {dir: .llmguard/cache, mode: record}\n"


def test_shards_are_stable_and_even() -> None:
    keys = [f"golden_sets/s.yaml::case-{i}" for i in range(4000)]
    counts = Counter(shard_of(k, 4) for k in keys)
    assert set(counts) == {1, 2, 3, 4}
    assert all(850 < n < 1150 for n in counts.values()), counts
    # the same on every machine and Python: a stable hash (sha256), never hash()
    assert shard_of("golden_sets/support.yaml::refund-window", 4) == 4
    assert shard_of("golden_sets/support.yaml::refund-window", 1) == 1


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _judged(doc: dict[str, Any]) -> tuple[Any, ...]:
    return (doc["verdict"], doc["comparisons"], doc["regressions"])


def _shard_runs(pytester: pytest.Pytester, sim_url: str) -> Path:
    write_project(pytester, sim_url, extra=CONFIG, golden=GOLDEN)
    common = ["--llmguard", "golden_sets", "--llmguard-target", "candidate=sim-wordy"]
    pytester.runpytest(*common)  # records every response
    replay = [*common, "--llmguard-cache", "replay"]
    full = pytester.runpytest(*replay, "--llmguard-save", "full.json")
    assert full.ret == pytest.ExitCode.TESTS_FAILED  # sim-wordy fails the token budget
    seen: Counter[str] = Counter()
    for index in (1, 2, 3):
        shard = pytester.runpytest(
            *replay, "--llmguard-shard", f"{index}/3", "--llmguard-save", f"s{index}.json", "-v"
        )
        # a shard decides no budget: no budget items, verdict skip, exit code of its cases
        assert shard.ret == pytest.ExitCode.OK
        assert "budget[" not in shard.stdout.str()
        doc = _load(pytester.path / f"s{index}.json")
        assert doc["verdict"] == "skip" and doc["comparisons"] == []
        assert doc["run"]["shard"] == {"index": index, "count": 3}
        seen.update(f"{c['key']}[{c['target']}]" for c in doc["cases"])
    assert len(seen) == 24 and set(seen.values()) == {1}  # every case × target exactly once
    return pytester.path


def test_merged_shards_are_judged_like_one_big_run(
    pytester: pytest.Pytester, sim_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    shard_runs = _shard_runs(pytester, sim_url)
    code = main(["merge", "s1.json", "s2.json", "s3.json", "-o", "merged.json"])
    assert code == 1  # the gate decides once, on the merged run
    merged, full = _load(shard_runs / "merged.json"), _load(shard_runs / "full.json")
    assert merged["verdict"] == "fail"
    assert _judged(merged) == _judged(full)
    assert len(merged["cases"]) == len(full["cases"]) == 24
    assert merged["run"]["shard"] is None
    assert any("merged from 3 shards" in n for n in merged["notes"])
    assert "llmguard verdict: FAIL" in capsys.readouterr().out
    # the merged run is an ordinary saved run: it renders as a PR comment
    assert main(["report", "merged.json", "--markdown", "comment.md"]) == 0
    assert "## ❌ llmguard: FAIL" in (shard_runs / "comment.md").read_text()
    _refusals(shard_runs)


def _refusals(shard_runs: Path) -> None:
    """Merge refuses what is not one run (same runs as above: pytester runs are slow)."""

    def variant(name: str, change: Any) -> str:
        doc = _load(shard_runs / "s2.json")
        change(doc)
        (shard_runs / name).write_text(json.dumps(doc))
        return name

    refusals = {
        "missing": (["s1.json", "s2.json"], "shards [3] of 3 are missing"),
        "twice": (["s1.json", "s2.json", "s2.json", "s3.json"], "given twice"),
        "full run": (["s1.json", "full.json", "s3.json"], "is not a shard"),
        "commit": (
            [
                "s1.json",
                variant("c.json", lambda d: d["run"]["git"].update(commit="f" * 40)),
                "s3.json",
            ],
            "their commit differ",
        ),
        "inputs": (
            ["s1.json", variant("i.json", lambda d: d["run"].update(inputs_digest="x")), "s3.json"],
            "their config and golden sets differ",
        ),
        "overlap": (
            [
                "s1.json",
                variant(
                    "o.json", lambda d: d["cases"].extend(_load(shard_runs / "s1.json")["cases"])
                ),
                "s3.json",
            ],
            "is in both",
        ),
    }
    for name, (paths, said) in refusals.items():
        with pytest.raises(SavedRunError, match=re.escape(said)):
            merge_shards([str(shard_runs / p) for p in paths], rootdir=str(shard_runs))
        assert name
    config = shard_runs / "llmguard.yaml"
    config.write_text(config.read_text().replace('"5%"', '"50%"'))
    with pytest.raises(SavedRunError, match="not the one the shards ran with"):
        merge_shards([str(shard_runs / f"s{i}.json") for i in (1, 2, 3)], rootdir=str(shard_runs))
