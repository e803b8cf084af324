"""Production drift on real logs: ``logs:`` read into the drift windows (mapping, windows,
damage, strictness), and end to end through `llmguard drift` and `pytest --llmguard
--llmguard-drift`: a shifted recent window is a finding and exit 1, an unshifted one is not."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.cli import main
from pytest_llmguard.config import load_config
from pytest_llmguard.drift.production_logs import read_production
from pytest_llmguard.exceptions import LogSourceError
from pytest_llmguard.pricing import cost_usd, find_price
from tests.drift.test_nights import write_night
from tests.sources.make_log_fixtures import OLD, SYSTEM, TRAFFIC, chat_response, iso

NOW = 1_765_000_800.0  # 2025-12-06T06:00:00Z
DAY = 86400.0


def call(i: int, when: float, answer: str, **extra: Any) -> dict[str, Any]:
    """One logged call in the openai-jsonl format of tests/data/logs/openai."""
    question = TRAFFIC[i % len(TRAFFIC)][0]
    record: dict[str, Any] = {
        "timestamp": iso(when),
        "latency_ms": 700,
        "request": {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
            ],
        },
        "response": chat_response(i, OLD, answer, 40),
    }
    record.update(extra)
    return record


RATE_LIMITED = {
    "error": {"type": "rate_limit_error", "message": "Rate limit reached", "status": 429},
    "response": None,
}


def traffic(
    now: float,
    *,
    latency: float = 1.0,
    errors: float = 0.01,
    negative: float = 0.1,
    n_reference: int = 280,
    n_recent: int = 120,
    seed: int = 5,
) -> list[str]:
    """A week of steady traffic before ``now - 1d``, then a day whose latency, rate-limit
    errors and negative feedback are the knobs (1.0, 0.01, 0.1: no shift)."""
    rng = random.Random(seed)
    lines = []
    for i in range(n_reference + n_recent):
        recent = i >= n_reference
        # a minute clear of every window bound, so the clock of the run does not matter
        age = rng.uniform(60, DAY - 60) if recent else DAY + rng.uniform(60, 7 * DAY - 60)
        answer = TRAFFIC[i % len(TRAFFIC)][1]
        extra: dict[str, Any] = {
            "latency_ms": round(rng.lognormvariate(6.5, 0.3) * (latency if recent else 1.0)),
            "feedback": "thumbs_down"
            if rng.random() < (negative if recent else 0.1)
            else "thumbs_up",
        }
        if rng.random() < (errors if recent else 0.01):
            extra.update(RATE_LIMITED)
        lines.append(json.dumps(call(i, now - age, answer, **extra)))
    return lines


def write_logs(root: Path, lines: list[str]) -> None:
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / "app.jsonl").write_text("\n".join(lines) + "\n")


LOGS = "logs: {sources: [{path: logs/app.jsonl}], sample: {n: 2}}\n"


def test_logged_calls_become_production_records_of_the_windows(tmp_path: Path) -> None:
    refusal = "I'm sorry, but I can't help with that request."
    undated = call(3, NOW, "no time")
    del undated["timestamp"], undated["response"]["created"]
    lines = [
        json.dumps(call(0, NOW - 3600, "You can ask for a refund within 30 days.")),
        json.dumps(call(1, NOW - 7200, refusal, feedback="thumbs_down", cost_usd=0.25)),
        json.dumps(call(2, NOW - 2 * DAY, "", **RATE_LIMITED)),
        json.dumps(undated),
        json.dumps(call(4, NOW - 9 * DAY, "too old")),
        json.dumps(call(5, NOW + 60, "after now")),
        '{"timestamp": "2025-12-06T01:00:00Z", "request": {"model": ',  # damaged
    ]
    write_logs(tmp_path, lines)
    (tmp_path / "llmguard.yaml").write_text(LOGS)
    config = load_config(str(tmp_path), None)
    logs = read_production(config, now=NOW)
    first, second, failed = logs.records
    assert first.timestamp == NOW - 3600 and first.latency_ms == 700.0
    assert (first.input_tokens, first.output_tokens) == (40, 12)
    # no cost in the log: priced from the table for the model and its tokens
    assert first.cost_usd == cost_usd(find_price(OLD, {}), 40, 12, 0) and first.cost_usd
    assert first.output_length == len("You can ask for a refund within 30 days.")
    assert (first.refusal, first.feedback_negative, first.error_class) == (False, None, None)
    assert (second.cost_usd, second.refusal, second.feedback_negative) == (0.25, True, True)
    assert failed.error_class == "rate_limit" and failed.output_length is None
    assert failed.refusal is None
    assert (logs.undated, logs.outside, logs.read.bad) == (1, 2, 1)
    notes = " | ".join(logs.notes())
    assert "3 in the windows, 2 outside them, 1 without a timestamp" in notes
    assert "1 bad record(s) skipped" in notes
    assert "2025-11-28 06:00 UTC .. 2025-12-06 06:00 UTC" in notes
    strict = tmp_path / "llmguard.yaml"
    strict.write_text(LOGS.replace("sample:", "strict: true, sample:"))
    with pytest.raises(LogSourceError):
        read_production(load_config(str(tmp_path), None), now=NOW)


def drift_output(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, Any]]:
    code = main(["drift", "--rootdir", str(root), "--no-alerts"])
    report = json.loads((root / "report.json").read_text())
    return code, capsys.readouterr().out, report["drift"]


def test_llmguard_drift_judges_the_production_windows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_night(tmp_path, 1, extra=LOGS)
    steady = traffic(time.time())
    write_logs(tmp_path, [*steady[:50], '{"timestamp": 17', *steady[50:]])
    code, out, drift = drift_output(tmp_path, capsys)
    assert code == 0, out
    assert drift["findings"] == [] and drift["production"]["records"] == {
        "reference": 280,
        "recent": 120,
    }
    assert "held 280 record(s), recent" in out and "held 120" in out
    assert "1 bad record(s) skipped" in out and "Holm step-down" in out
    assert "needs the production-log readers" not in out
    tested = {t["name"] for t in drift["production"]["tests"]}
    assert {"latency_ms", "output_tokens", "error_rate[rate_limit]"} <= tested
    assert "feedback_negative_rate" in tested and "refusal_rate" in tested

    write_night(tmp_path, 2, extra=LOGS)
    write_logs(tmp_path, traffic(time.time(), latency=1.6, errors=0.12, negative=0.35))
    code, out, drift = drift_output(tmp_path, capsys)
    assert code == 1, out
    moved = {f["subject"] for f in drift["findings"] if f["kind"] == "production"}
    assert moved == {"latency_ms", "error_rate[rate_limit]", "feedback_negative_rate"}
    assert "llmguard drift: DRIFT" in out and "FAIL latency_ms median" in out


def test_a_window_too_small_is_said_not_tested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_night(tmp_path, 1, extra=LOGS)
    write_logs(tmp_path, traffic(time.time(), latency=3.0, n_recent=12))
    code, out, drift = drift_output(tmp_path, capsys)
    assert code == 0, out
    assert "the recent window holds 12 record(s), under drift.production.min_rows (30)" in out
    assert not drift["production"]["tests"]


def test_pytest_drift_run_finds_production_drift(pytester: pytest.Pytester) -> None:
    write_night(pytester.path, 1, extra=LOGS)
    config = pytester.path / "llmguard.yaml"  # no alerts: exit 1 is the drift's alone
    config.write_text("".join(x for x in config.read_text().splitlines(True) if "alerts" not in x))
    write_logs(pytester.path, traffic(time.time(), latency=1.6, errors=0.12, negative=0.35))
    result = pytester.runpytest("--llmguard", "--llmguard-drift", "-p", "no:randomly")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*llmguard drift: DRIFT*", "*FAIL error_rate[[]rate_limit[]]*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["drift"]["production"]["records"] == {"reference": 280, "recent": 120}
