"""Calls in a forked child, streamed to the items: the pipe protocol, failures, Ctrl-C, and the
plugin end to end (in a subprocess: the test process itself has threads, so it never forks)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import SimLog
from tests.test_plugin import SUPPORT, write_project


def run_script(body: str) -> list[str]:
    """Run ``body`` in a fresh, single-threaded Python (where forking is allowed)."""
    script = "from pytest_llmguard.execution.child import CallChild\n" + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_messages_stream_in_order_then_the_summary_and_a_clean_exit() -> None:
    out = run_script(
        """
        def work(emit):
            for i in range(500):
                emit({"o": {"i": i, "text": "é" * (i % 7) + "\\n" * (i % 3)}})
            return {"seconds": 0.5, "notes": [], "interrupted": False}

        child = CallChild.start(work)
        got = []
        while not child.done:
            got += [m["o"]["i"] for m in child.messages(block=True) if "o" in m]
        child.reap()
        print(got == list(range(500)), child.final, child.exit_status)
        """
    )
    assert out == ["True {'seconds': 0.5, 'notes': [], 'interrupted': False} 0"]


def test_a_failing_child_is_one_clear_error_in_the_parent() -> None:
    out = run_script(
        """
        from pytest_llmguard.exceptions import EngineError

        def work(emit):
            emit({"o": {"i": 0}})
            raise ValueError("no such target")

        child = CallChild.start(work)
        try:
            while not child.done:
                list(child.messages(block=True))
        except EngineError as exc:
            print(exc)
        child.reap()
        print(child.exit_status)
        """
    )
    assert out == ["the call process failed: ValueError: no such target", "1"]


def test_a_child_that_dies_leaves_no_summary() -> None:
    out = run_script(
        """
        import os

        def work(emit):
            emit({"o": {"i": 0}})
            os._exit(9)

        child = CallChild.start(work)
        got = []
        while not child.done:
            got += list(child.messages(block=True))
        child.reap()
        print(len(got), child.final, child.exit_status)
        """
    )
    assert out == ["1 None 9"]


def test_interrupt_cancels_the_calls_and_the_child_says_so() -> None:
    out = run_script(
        """
        import asyncio
        from pytest_llmguard.execution.child import run_interruptible

        def work(emit):
            async def calls():
                emit({"o": {"i": 0}})
                await asyncio.sleep(30)

            return {"interrupted": run_interruptible(calls())}

        child = CallChild.start(work)
        first = next(child.messages(block=True))
        child.interrupt()
        while not child.done:
            list(child.messages(block=True, timeout_s=10))
        child.reap()
        print(first, child.final, child.exit_status)
        """
    )
    assert out == ["{'o': {'i': 0}} {'interrupted': True} 0"]


def test_sigint_outside_the_calls_never_cuts_a_message() -> None:
    """The child ignores SIGINT while it writes; only the calls are interruptible."""
    out = run_script(
        """
        import os, signal

        def work(emit):
            for i in range(2000):
                emit({"o": {"i": i, "pad": "x" * 500}})
                if i % 100 == 0:
                    os.kill(os.getpid(), signal.SIGINT)
            return {"interrupted": False}

        child = CallChild.start(work)
        got = []
        while not child.done:
            got += [m["o"]["i"] for m in child.messages(block=True) if "o" in m]
        child.reap()
        print(got == list(range(2000)), child.final, child.exit_status)
        """
    )
    assert out == ["True {'interrupted': False} 0"]


def test_a_broken_line_is_one_clear_error() -> None:
    out = run_script(
        """
        import os, stat
        from pytest_llmguard.exceptions import EngineError

        def work(emit):
            emit({"o": {"i": 0}})
            for fd in range(3, 64):  # the pipe to the parent: half a line, then death
                try:
                    if stat.S_ISFIFO(os.fstat(fd).st_mode):
                        os.write(fd, b'{"o": {"i": 1}, "cut')
                except OSError:
                    pass
            os._exit(9)

        child = CallChild.start(work)
        got = []
        try:
            while not child.done:
                got += list(child.messages(block=True))
        except EngineError as exc:
            print(exc)
        child.reap()
        print(len(got), child.exit_status)
        """
    )
    assert out == ["the call process ended in the middle of a message", "1 9"]


def test_the_plugin_streams_calls_from_a_child_with_the_same_results(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = SUPPORT.replace('- contains: "30 days"', '- contains: "90 days"')
    write_project(pytester, sim_url, golden=golden)
    reports = {}
    for fork in ("1", "0"):
        monkeypatch.setenv("LLMGUARD_FORK", fork)
        sim_log.reset()
        result = pytester.runpytest_subprocess(
            "--llmguard", "golden_sets", "-p", "no:cacheprovider"
        )
        result.assert_outcomes(passed=4, failed=2)
        calls = Counter((r["model"], r["prompt_sha"]) for r in sim_log.requests())
        assert len(calls) == 6 and set(calls.values()) == {1}
        forked = "made while the items run" in result.stdout.str()
        assert forked == (fork == "1")
        if forked:
            result.stdout.fnmatch_lines(["llmguard: calls done in * s (while the items ran)"])
        result.stdout.fnmatch_lines(["*contains*90 days*", "*output (sim-stable*"])
        report = json.loads((pytester.path / "report.json").read_text())
        reports[fork] = (
            report["verdict"],
            sorted((c["key"], c["target"], c["passed"], c["output"]) for c in report["cases"]),
        )
    assert reports["1"] == reports["0"]


def test_a_replaying_child_scores_too_with_the_same_results(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a pure replay the child also scores (no network timing to disturb)."""
    golden = SUPPORT.replace('- contains: "30 days"', '- contains: "90 days"')
    write_project(pytester, sim_url, golden=golden)
    args = ("--llmguard", "golden_sets", "-p", "no:cacheprovider", "--llmguard-cache")
    pytester.runpytest_subprocess(*args, "record").assert_outcomes(passed=4, failed=2)
    sim_log.reset()
    reports = {}
    for fork in ("1", "0"):
        monkeypatch.setenv("LLMGUARD_FORK", fork)
        result = pytester.runpytest_subprocess(*args, "replay")
        result.assert_outcomes(passed=4, failed=2)
        assert ("made while the items run" in result.stdout.str()) == (fork == "1")
        result.stdout.fnmatch_lines(["*6 of 6 responses came from the cache*"])
        report = json.loads((pytester.path / "report.json").read_text())
        reports[fork] = sorted(
            (c["key"], c["target"], c["passed"], c["scores"]["similarity"], c["checks"] != [])
            for c in report["cases"]
        )
    assert reports["1"] == reports["0"]
    assert sim_log.requests() == []


def test_a_full_pipe_never_blocks_the_childs_event_loop(tmp_path: Path) -> None:
    """While the parent reads nothing (a slow item), the child's loop still runs to the end.

    A blocking write would stall it once the pipe is full (replies would then be stamped
    late); here the child finishes its loop and says so while the parent is not reading.
    """
    flag = tmp_path / "loop-finished"
    out = run_script(
        f"""
        import asyncio, os, time

        def work(emit):
            async def main():
                for i in range(3000):  # ~3 MB: far more than a pipe holds
                    emit({{"o": {{"i": i, "pad": "x" * 1000}}}})
                    await asyncio.sleep(0)

            asyncio.run(main())
            open({str(flag)!r}, "w").close()
            return {{}}

        child = CallChild.start(work)
        deadline = time.monotonic() + 60
        while not os.path.exists({str(flag)!r}) and time.monotonic() < deadline:
            time.sleep(0.01)  # not reading: only a non-blocking child gets there
        finished_unread = os.path.exists({str(flag)!r})
        got = []
        while not child.done:
            got += [m["o"]["i"] for m in child.messages(block=True) if "o" in m]
        child.reap()
        print(finished_unread, got == list(range(3000)), child.exit_status)
        """
    )
    assert out == ["True True 0"]


def test_every_repeat_reaches_its_item(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An item waits for all of its repeats, not the first to arrive (forked or not)."""
    write_project(pytester, sim_url, extra="")
    config = (pytester.path / "llmguard.yaml").read_text()
    config = config.replace("run: {concurrency: 8,", "run: {concurrency: 8, repeat: 3,")
    (pytester.path / "llmguard.yaml").write_text(config)
    for fork in ("1", "0"):
        monkeypatch.setenv("LLMGUARD_FORK", fork)
        sim_log.reset()
        result = pytester.runpytest_subprocess(
            "--llmguard", "golden_sets", "-p", "no:cacheprovider", "--junitxml=junit.xml"
        )
        result.assert_outcomes(passed=6)
        assert len(sim_log.requests()) == 18
        junit = (pytester.path / "junit.xml").read_text()
        assert junit.count('name="latency_ms"') == 18  # three per item, on every item


def test_a_failing_child_fails_only_the_cases_it_did_not_call(
    pytester: pytest.Pytester, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(pytester, sim_url)
    (pytester.path / "conftest.py").write_text(
        "import pytest_llmguard.runner as runner\n\n"
        "_run = runner.Engine.run\n\n"
        "async def run(self, units, on_observation=None):\n"
        "    await _run(self, units[:2], on_observation)\n"
        "    raise RuntimeError('engine bug')\n\n"
        "runner.Engine.run = run\n"
    )
    monkeypatch.setenv("LLMGUARD_FORK", "1")
    result = pytester.runpytest_subprocess("--llmguard", "golden_sets", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines(["*not called: the call process failed: RuntimeError: engine bug*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert len(report["cases"]) == 2
    assert any("engine bug" in note for note in report["notes"])
    assert "Traceback" not in result.stdout.str()
