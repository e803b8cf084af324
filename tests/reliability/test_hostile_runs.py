"""A crashed run never reports PASS; a crashed xdist worker stalls nothing; SIGTERM is Ctrl-C.

Real ``pytest --llmguard`` subprocesses. Crashes are injected by the project's own
``conftest.py`` (imported by every process of the run, and inherited by the forked call
child): the engine raises halfway through its calls, the forked call child is SIGKILLed
halfway, or scoring raises as a whole. A worker crash is a SIGKILL to one xdist worker
while it is calling. SIGTERM goes to the main process only, as ``timeout``, ``docker
stop`` and Kubernetes send it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SimLog
from tests.reliability.project import Project, Run, child_pids

CRASH_CONFTEST = """
import os
import signal

import pytest_llmguard.execution.calls as calls
import pytest_llmguard.execution.forked as forked
import pytest_llmguard.runner as runner

_run = runner.Engine.run


async def _exploding_run(self, units, on_observation=None):
    half = units[: max(1, len(units) // 2)]
    await _run(self, half, on_observation)
    raise RuntimeError("engine exploded")


async def _dying_run(self, units, on_observation=None):
    half = units[: max(1, len(units) // 2)]
    await _run(self, half, on_observation)
    os.kill(os.getpid(), signal.SIGKILL)  # the call child dies: no error, no summary


def _exploding_score(*args, **kwargs):
    raise RuntimeError("scorer exploded")


if os.environ.get("CRASH") == "engine":
    runner.Engine.run = _exploding_run
elif os.environ.get("CRASH") == "child-dies":
    runner.Engine.run = _dying_run
elif os.environ.get("CRASH") == "scoring":
    calls.score_batch = forked.score_batch = _exploding_score
"""
N_CASES = 8


def _project(
    root: Path, sim_url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 5
) -> Project:
    project = Project(root)
    project.write("conftest.py", CRASH_CONFTEST)
    target = {"provider": "openai", "base_url": sim_url, "headers": headers or {}}
    project.config(
        {
            "baseline": {**target, "model": "sim-stable"},
            "candidate": {**target, "model": "sim-candidate"},
        },
        run={"concurrency": 2, "timeout_s": timeout_s, "retries": {"max": 0}},
        extra="compare: {baseline: baseline, candidate: candidate}\n"
        "budgets: {error_rate: {max: 0.5}}\n"
        "gate: {min_cases: 1}\n"
        "report: {json: report.json, markdown: report.md}\n",
    )
    project.golden(
        "crash", [{"id": f"c{i}", "prompt": f"Question number {i}?"} for i in range(N_CASES)]
    )
    return project


def _assert_incomplete(run: Run, why: str) -> dict[str, Any]:
    """Every report and the save say the run is incomplete and why; nothing says PASS."""
    assert run.ret not in (0, 3), run.output
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output, run.output
    report = run.report()
    assert report["run"]["complete"] is False and report["run"]["partial"] is True
    assert any(why in reason for reason in report["run"]["incomplete"]), report["run"]
    assert report["verdict"] != "pass"
    md = (run.path / "report.md").read_text(encoding="utf-8")
    head = md.split("\n|", 1)[0]  # before the first table
    assert "Partial run" in head and why in head, md
    assert "PASS" not in md.splitlines()[1]
    summary = run.stdout.split("= llmguard =", 1)[1].splitlines()
    verdict = next(i for i, line in enumerate(summary) if line.startswith("llmguard verdict: "))
    assert "PASS" not in summary[verdict], summary
    assert summary[verdict + 1].startswith("incomplete: ") and why in summary[verdict + 1]
    assert not (run.path / "saved.json").exists(), "an incomplete run is never a baseline"
    saved = json.loads((run.path / "saved.json.partial").read_text(encoding="utf-8"))
    assert saved["run"]["complete"] is False
    return report


@pytest.mark.parametrize(
    ("crash", "fork", "why"),
    [
        pytest.param("engine", "0", "engine exploded", id="engine-in-process"),
        pytest.param("engine", "1", "engine exploded", id="engine-in-call-child"),
        pytest.param("child-dies", "1", "ended without finishing", id="call-child-killed"),
        pytest.param("scoring", "0", "scorer exploded", id="scoring-in-process"),
        pytest.param("scoring", "1", "scorer exploded", id="scoring-in-items-process"),
    ],
)
def test_a_crash_never_reports_pass(
    tmp_path: Path, sim_url: str, crash: str, fork: str, why: str
) -> None:
    project = _project(tmp_path, sim_url)
    run = project.run(
        "-p", "no:cacheprovider", "--llmguard-save", "saved.json",
        env={"CRASH": crash, "LLMGUARD_FORK": fork},
    )  # fmt: skip
    report = _assert_incomplete(run, why)
    if crash != "scoring":
        # what was called before the crash is reported; the rest fail, saying why
        assert 0 < len(report["cases"]) < 2 * N_CASES
        assert "not called: " in run.stdout and why in run.stdout
    else:
        assert len(report["cases"]) == 2 * N_CASES  # every call made, none judged
        assert all(not c["passed"] for c in report["cases"])


def test_a_crash_in_an_xdist_worker_never_reports_pass(tmp_path: Path, sim_url: str) -> None:
    project = _project(tmp_path, sim_url)
    run = project.run(
        "-p", "no:cacheprovider", "-n", "2", "--llmguard-save", "saved.json",
        env={"CRASH": "engine"},
    )  # fmt: skip
    _assert_incomplete(run, "engine exploded")


def test_a_killed_xdist_worker_stalls_nothing(
    tmp_path: Path, sim_url: str, sim_log: SimLog
) -> None:
    """SIGKILL one of two workers while it calls: its share fails at once (not one handover
    deadline per item), the run reports and says what was lost."""
    # The handover deadline is then 60 s + 8 rounds x 20 s: a lost item that waits for it
    # runs past the test's own bound.
    project = _project(tmp_path, sim_url, headers={"x-sim-latency-ms": "250"}, timeout_s=20)
    killed: list[int] = []

    def calling(stdout: str) -> bool:
        return len(sim_log.requests()) >= 2

    def kill_one_worker(proc: subprocess.Popen[bytes]) -> None:
        workers = child_pids(proc.pid)
        assert workers, "no xdist worker found"
        os.kill(workers[0], signal.SIGKILL)
        killed.append(workers[0])

    t0 = time.monotonic()
    run = project.interrupt(
        "-p", "no:cacheprovider", "-n", "2", "--llmguard-save", "saved.json",
        when=calling, act=kill_one_worker,
    )  # fmt: skip
    took = time.monotonic() - t0
    assert took < 100, f"the run took {took:.0f} s"
    assert killed
    report = _assert_incomplete(run, "crashed")
    assert "before handing over its results" in " ".join(report["run"]["incomplete"])
    lost = [line for line in run.stdout.splitlines() if "its share of the cases" in line]
    assert lost, run.stdout


@pytest.mark.parametrize("workers", [pytest.param(0, id="single"), pytest.param(2, id="xdist")])
def test_sigterm_is_handled_like_ctrl_c(
    tmp_path: Path, sim_url: str, sim_log: SimLog, workers: int
) -> None:
    # Under xdist each worker calls only its share: slower calls leave time for the signal
    # to reach the workers on a loaded machine before every call is made.
    latency = "1000" if workers else "400"
    project = _project(tmp_path, sim_url, headers={"x-sim-latency-ms": latency})
    temp = tmp_path / "tmp"
    temp.mkdir()

    def calls_under_way(stdout: str) -> bool:
        return len(sim_log.requests()) > 2 * max(1, workers)

    def sigterm_to_main_process(proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGTERM)

    xdist = ["-n", str(workers)] if workers else []
    run = project.interrupt(
        "-p", "no:cacheprovider", "--llmguard-save", "saved.json", *xdist,
        when=calls_under_way, act=sigterm_to_main_process, env={"TMPDIR": str(temp)},
    )  # fmt: skip
    assert run.ret == 2, run.output
    assert len(sim_log.requests()) < 2 * N_CASES, "calls stopped after SIGTERM"
    report = run.report()
    assert report["run"]["partial"] is True and report["run"]["complete"] is False
    assert report["verdict"] != "pass"
    assert 1 <= len(report["cases"]) < 2 * N_CASES
    assert not (project.path / "saved.json").exists()
    assert (project.path / "saved.json.partial").exists()
    assert "Partial run" in (project.path / "report.md").read_text(encoding="utf-8")
    assert list(temp.glob("llmguard-run-*")) == [], "the run directory was left behind"
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
