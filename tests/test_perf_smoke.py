"""The performance benchmark still runs end to end (tiny sizes; no timing is asserted).

``benchmarks/perf.py`` is how issue #5's numbers are produced; this keeps it from rotting:
the C loopback server builds and answers, every row of a small run prints, replays send
nothing, and each case is called once under ``-n 2``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.skipif(shutil.which("gcc") is None, reason="the C loopback server needs gcc")
def test_perf_script_runs_every_row_on_a_tiny_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "perf.py"),
            "--cases",
            "24",
            "--big",
            "48",
            "--fidelity-cases",
            "16",
            "--repeats",
            "1",
            "--xdist-repeats",
            "1",
            "--latency-ms",
            "0",
            "--rows",
            "live",
            "xdist",
            "cached",
            "fidelity",
            "memory",
            "record",
            "tar",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
    )
    out = done.stdout
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a target missed
    assert re.search(r"server: fastserver\.c, capacity [\d,]+ requests/s", out)
    for row in ("live 24 cases, 0 ms", "-n 2, same 24 cases", "cached replay, 24 cases",
                "cached replay, 48 cases", "latency fidelity", "peak RSS",
                "record 24 cases, 0 ms", "refresh 48 cases, 0 ms",
                "cache tar, 48 entries"):  # fmt: skip
        assert f"| {row}" in out, out
    assert "calls 24 (24 distinct); verdicts identical: True" in out
    assert out.count("requests sent: 0; all cached: True") == 2
