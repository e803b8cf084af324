"""A throwaway pytest-llmguard project on disk, run by a real ``pytest`` subprocess.

Subprocesses rather than pytester where a test needs a signal, a clean interpreter, or
a run from a module-scoped fixture (pytester is function-scoped).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Every wait in these tests is bounded: a hung run fails the test instead of the build.
RUN_TIMEOUT_S = 120.0
# The outer pytest (and xdist) set these; a nested run must not inherit them.
_LEAKY_ENV = (
    "PYTEST_ADDOPTS",
    "PYTEST_CURRENT_TEST",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "PYTEST_XDIST_TESTRUNUID",
    "PYTEST_PLUGINS",
)


def yaml_flow(value: Mapping[str, Any]) -> str:
    """A mapping as one YAML flow line (JSON is YAML; keys stay in order)."""
    return json.dumps(value, ensure_ascii=True)


@dataclass(frozen=True)
class Run:
    """A finished ``pytest --llmguard`` subprocess."""

    ret: int
    stdout: str
    stderr: str
    path: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def report(self, name: str = "report.json") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / name).read_text(encoding="utf-8"))
        return data

    def failure_text(self, nodeid_part: str) -> str:
        """The failure section of one item (the lines under its ``___ title ___`` header)."""
        lines = self.stdout.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("_") and f" {nodeid_part} " in line:
                body = []
                for following in lines[i + 1 :]:
                    if following.startswith(("___", "===")):
                        break
                    body.append(following)
                return "\n".join(body)
        raise AssertionError(f"no failure section for {nodeid_part!r} in:\n{self.stdout}")


class Project:
    """Files of a project (``llmguard.yaml``, golden sets) and a way to run pytest on it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        # Pins the rootdir to the project, whatever lies above it.
        (path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        # A Python file: pytest could collect ordinary tests here, so ``-n N`` really
        # starts xdist workers (with golden sets alone the plugin declines them).
        (path / "conftest.py").write_text("", encoding="utf-8")

    def write(self, relative: str, text: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def config(
        self,
        targets: Mapping[str, Mapping[str, Any]],
        *,
        run: Mapping[str, Any],
        extra: str = "",
    ) -> None:
        lines = ["golden_sets: [golden_sets/]", "targets:"]
        lines.extend(f"  {name}: {yaml_flow(spec)}" for name, spec in targets.items())
        lines.append(f"run: {yaml_flow(run)}")
        self.write("llmguard.yaml", "\n".join(lines) + "\n" + extra)

    def golden(self, name: str, cases: Sequence[Mapping[str, Any]], *, header: str = "") -> None:
        body = [f"name: {name}", *header.splitlines(), "cases:"]
        body.extend(f"  - {yaml_flow(case)}" for case in cases)
        self.write(f"golden_sets/{name}.yaml", "\n".join(body) + "\n")

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra or {})
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "pytest", "--llmguard", "-p", "no:randomly", *args]

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Run:
        done = subprocess.run(
            self.command(*args),
            cwd=self.path,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr, self.path)

    def interrupt(
        self,
        *args: str,
        when: Callable[[str], bool],
        env: Mapping[str, str] | None = None,
        act: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> Run:
        """Start a run, press Ctrl-C once ``when(stdout so far)`` is true.

        A terminal's Ctrl-C sends SIGINT to the whole foreground process group (xdist
        workers included), so the run gets its own group and the signal goes to all of it.
        ``act`` does something else to the run instead (SIGTERM to the main process only,
        as ``timeout`` and Docker do; SIGKILL to one xdist worker).
        """
        out_path = self.path / ".stdout.txt"
        err_path = self.path / ".stderr.txt"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                self.command(*args),
                cwd=self.path,
                env=self.env(env),
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while not when(out_path.read_text(encoding="utf-8", errors="replace")):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(
                            "the run ended (or hung) before the interrupt point:\n"
                            + out_path.read_text(encoding="utf-8", errors="replace")
                        )
                    time.sleep(0.02)  # polling the run's output, not waiting for a server
                if act is None:
                    os.killpg(proc.pid, signal.SIGINT)
                else:
                    act(proc)
                ret = proc.wait(timeout=RUN_TIMEOUT_S)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        stdout = out_path.read_text(encoding="utf-8", errors="replace")
        stderr = err_path.read_text(encoding="utf-8", errors="replace")
        out_path.unlink()
        err_path.unlink()
        return Run(ret, stdout, stderr, self.path)


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc), oldest first."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:  # field 4 of stat: the parent's pid
            found.append((int(fields[19]), int(stat.parent.name)))  # field 22: start time
    return [p for _, p in sorted(found)]
