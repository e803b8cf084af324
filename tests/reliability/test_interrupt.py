"""Ctrl-C (SIGINT) mid-run: stop calling, write partial reports, never a complete-looking
baseline, exit 2, and no traceback beyond pytest's own KeyboardInterrupt line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SimLog
from tests.reliability.project import Project

N_CASES = 20
SLOW = {"x-sim-latency-ms": "400"}  # 20 calls, 2 at a time: about 4 s if not interrupted


@pytest.mark.parametrize(
    "workers",
    [
        pytest.param(0, id="single"),
        pytest.param(
            2,
            id="xdist",
        ),
    ],
)
def test_sigint_writes_a_partial_report_and_no_baseline(
    tmp_path_factory: pytest.TempPathFactory, sim_url: str, sim_log: SimLog, workers: int
) -> None:
    project = Project(tmp_path_factory.mktemp("interrupt"))
    project.config(
        {
            "slow": {
                "provider": "openai",
                "base_url": sim_url,
                "model": "sim-stable",
                "headers": SLOW,
            }
        },
        run={"concurrency": 2, "timeout_s": 10},
        extra="report: {json: report.json, markdown: report.md}\n",
    )
    project.golden(
        "slow", [{"id": f"c{i:02d}", "prompt": f"Slow question {i}"} for i in range(N_CASES)]
    )

    in_flight = 2 * max(1, workers)

    def calls_under_way(stdout: str) -> bool:
        # One request more than can be in flight: at least one call has completed.
        return len(sim_log.requests()) > in_flight

    xdist = ["-n", str(workers)] if workers else []
    run = project.interrupt(
        "--llmguard-save", "baseline.json", "-p", "no:cacheprovider", *xdist, when=calls_under_way
    )

    assert run.ret == 2, run.output
    called = len(sim_log.requests())
    assert called < N_CASES, "calls stopped after Ctrl-C"
    report = run.report()
    assert report["run"]["partial"] is True
    assert 1 <= len(report["cases"]) < N_CASES
    assert all(c["error"] is None and c["output"] for c in report["cases"])
    assert not (project.path / "baseline.json").exists()
    saved = json.loads((project.path / "baseline.json.partial").read_text(encoding="utf-8"))
    assert saved["run"]["partial"] is True
    assert "Partial run" in (project.path / "report.md").read_text(encoding="utf-8")
    assert "KeyboardInterrupt" in run.stdout
    assert "Traceback" not in run.output
    assert "INTERNALERROR" not in run.output
    # pytest's short form: one "path:line: KeyboardInterrupt" line, no stack of frames
    frames = [line for line in run.output.splitlines() if line.endswith(": KeyboardInterrupt")]
    assert len(frames) <= 1, run.output
