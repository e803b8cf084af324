"""The nightly workflow keeps its history between nights: the old one downloaded the
previous night's artifact without a run id (which only looks in the current run, so it
never had a baseline) and hid that with continue-on-error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOW = Path(__file__).parents[2] / ".github" / "workflows" / "llmguard-nightly.yml"


def test_nightly_runs_the_drift_check_and_keeps_the_history_in_the_cache() -> None:
    text = WORKFLOW.read_text()
    steps: list[dict[str, Any]] = yaml.safe_load(text)["jobs"]["drift"]["steps"]
    assert "continue-on-error" not in text and "download-artifact" not in text
    uses = [s.get("uses", "") for s in steps]
    restore = steps[uses.index("actions/cache/restore@v4")]["with"]
    save = steps[uses.index("actions/cache/save@v4")]
    check = next(s for s in steps if "llmguard drift" in s.get("run", ""))
    # restored before the check, saved after it even when drift fails the job
    assert uses.index("actions/cache/restore@v4") < steps.index(check) < steps.index(save)
    assert save["if"] == "always()"
    assert restore["path"] == save["with"]["path"] == ".llmguard/history"
    # a new key each night (cache keys cannot be overwritten), found again by its prefix
    assert "${{ github.run_id }}" in restore["key"] and restore["key"] == save["with"]["key"]
    assert restore["key"].startswith(restore["restore-keys"])
    # a prefix of its own: the PR gate's history caches are not nights
    assert restore["restore-keys"] == "llmguard-nightly-"
