"""benchmarks/log_ingest.py still runs end to end (a tiny file; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_log_ingest_benchmark_runs_every_row() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "log_ingest.py"), "--mb", "2", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    for row in ("bare json.loads loop", "sources path (read, sample, cases)", "a quarter"):
        assert row in done.stdout
