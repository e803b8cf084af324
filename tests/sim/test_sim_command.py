"""``llmguard sim``: serving until a signal, answers files, capacity measurement."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pytest_llmguard.sim.command import main


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "pytest_llmguard.sim.command", "--port", "0", *args]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    first = child.stdout.readline()  # blocks until the server listens (or dies)
    match = re.search(r"serving (http://\S+/v1)", first)
    assert match, first + (child.stderr.read() if child.stderr else "")
    return child, match.group(1)


@pytest.fixture
def answers_file(tmp_path: Path) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text("'Ping?': 'Pong.'\n", encoding="utf-8")
    return path


@pytest.fixture
def served(answers_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    child, url = start("--answers", str(answers_file), "--latency-scale", "0")
    try:
        yield child, url
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_a_signal_then_exits_zero(
    served: tuple[subprocess.Popen[str], str], signum: signal.Signals
) -> None:
    child, url = served
    body = {"model": "sim-stable", "messages": [{"role": "user", "content": "Ping?"}]}
    response = httpx.post(f"{url}/chat/completions", json=body)
    assert response.json()["choices"][0]["message"]["content"] == "Pong."
    assert child.stdout is not None
    assert "sim-stable" in child.stdout.readline()  # the model list
    child.send_signal(signum)
    assert child.wait(timeout=10) == 0


def test_bad_answers_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(["not", "a", "mapping"]), encoding="utf-8")
    assert main(["--answers", str(path), "--port", "0"]) == 4
    error = capsys.readouterr().err
    assert str(path) in error and "mapping of prompt" in error


def test_missing_answers_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--answers", str(tmp_path / "nope.yaml")]) == 4
    assert "cannot read" in capsys.readouterr().err


def test_capacity_is_measured_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--capacity", "--connections", "4", "--duration", "0.3"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"capacity ([\d,]+) requests/s", out)
    assert match and int(match.group(1).replace(",", "")) > 0
