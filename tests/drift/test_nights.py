"""The nightly check end to end: `pytest --llmguard --llmguard-drift` over a few nights
against the in-process simulator (in one process and under -n 2), `llmguard drift` and
`llmguard history`, and a damaged history that is skipped with a warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmguard.cli import main
from tests.fakes.webhook import WebhookReceiver


def _golden(cases: int = 30) -> str:
    lines = ["name: nightly", "cases:"]
    for i in range(cases):
        lines.append(f"  - id: c{i:02d}")
        lines.append(f'    prompt: "Question {i}: how does feature {i} handle refunds?"')
        if i % 2 == 0:
            lines.append(f'    expected: "Feature {i} refunds orders within {i + 2} days."')
    return "\n".join(lines) + "\n"


def write_night(root: Path, night: int, knobs: str = "", extra: str = "") -> None:
    """The project on night ``night``: prod-model with its knobs (same name every night)."""
    (root / "golden_sets").mkdir(exist_ok=True)
    (root / "golden_sets" / "nightly.yaml").write_text(_golden())
    (root / "golden_sets" / "conftest.py").write_text("")  # so -n 2 really starts workers
    (root / "llmguard.yaml").write_text(
        "targets: {prod: {provider: sim, model: prod-model}}\n"
        f"sim: {{seed: 3, latency_scale: 0.05, run_seed: {night}, models: "
        f"{{prod-model: {{base: sim-stable, variable_share: 0.3{knobs}}}}}}}\n"
        "run: {concurrency: 16, timeout_s: 10}\n"
        "gate: {min_cases: 10}\n"
        "report: {json: report.json}\n"
        # latencies of a loaded test machine are not the simulator's: judge the rest
        "drift: {reference_runs: 2, budgets: {error_rate: {max_increase: 0.01}, "
        "output_tokens_mean: {max_increase: 15%}}, control: {metrics: [error_rate]}}\n"
        "alerts: {webhook_url_env: NIGHTLY_HOOK, retries: 1, backoff_s: 0.01}\n" + extra
    )


SILENT = ", accuracy: 0.6, accuracy_share: 0.5"


def test_stable_nights_pass_and_a_silent_change_fails_and_alerts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver() as hook:
        monkeypatch.setenv("NIGHTLY_HOOK", hook.url)
        args = ["--llmguard", "--llmguard-drift", "-p", "no:randomly"]
        for night, xdist in ((1, []), (2, []), (3, ["-n", "2"])):  # the controller judges
            write_night(pytester.path, night)
            result = pytester.runpytest(*args, *xdist)
            assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines(["*llmguard drift: OK*", "*against 2 reference night(s)*"])
        assert not hook.messages
        write_night(pytester.path, 4, SILENT)
        result = pytester.runpytest(*args)
        assert result.ret == 1
        result.stdout.fnmatch_lines(
            [
                "*llmguard drift: DRIFT*",
                "*FAIL prod: silent change: prod-model answers differently tonight*",
                "*before: *",
                "*after: *",
            ]
        )
        report = json.loads((pytester.path / "report.json").read_text())
        assert report["drift"]["verdict"] == "drift"
        assert report["drift"]["findings"][0]["kind"] == "silent_change"
        (message,) = hook.messages
        assert "silent_change:prod:outputs" in message["text"]
        # the next night still differs from the reference (not re-alerted, still exit 1)
        write_night(pytester.path, 5, SILENT)
        assert pytester.runpytest(*args, "-n", "2").ret == 1
        assert len(hook.messages) == 1
    history = sorted((pytester.path / ".llmguard/history").glob("0*.json"))
    assert len([p for p in history if ".digest." in p.name]) == 5


def test_ini_twin_turns_the_check_on(pytester: pytest.Pytester) -> None:
    write_night(pytester.path, 1)
    pytester.makeini("[pytest]\nllmguard = true\nllmguard_drift = true\n")
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*llmguard drift: FIRST NIGHT*", "*stored: *"])


def test_llmguard_drift_and_history_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for night in (1, 2, 3):
        write_night(tmp_path, night)
        assert main(["drift", "--rootdir", str(tmp_path), "--no-alerts"]) == 0
    out = capsys.readouterr().out
    assert "llmguard drift: OK" in out and "llmguard verdict: PASS" in out
    write_night(tmp_path, 4, SILENT)
    md = tmp_path / "drift.md"
    assert main(["drift", "--rootdir", str(tmp_path), "--no-alerts", "--markdown", str(md)]) == 1
    assert "silent change" in md.read_text() and "| case |" in md.read_text()
    capsys.readouterr()
    # damage one night's digest and make another partial: skipped with a warning
    store = tmp_path / ".llmguard/history"
    digests = sorted(store.glob("*.digest.json"))
    digests[1].write_text('{"format": 1, "targets": ')
    assert main(["history", "--rootdir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "run 00002 skipped: damaged night digest" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["run", "date", "(UTC)", "verdict"]
    assert any(line.startswith("00004") and " drift " in line for line in lines)
    assert any("silent change" in line for line in lines)
    assert "3 night(s)" in lines[-1] and "1 skipped" in lines[-1]
    assert main(["history", "--rootdir", str(tmp_path), "--json", "--limit", "2"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["verdict"] for r in rows] == ["ok", "drift"]
    # the check itself runs on, and says what it skipped
    write_night(tmp_path, 5)
    assert main(["drift", "--rootdir", str(tmp_path), "--no-alerts"]) in (0, 1)
    assert "run 00002 skipped: damaged night digest" in capsys.readouterr().out


def test_an_undelivered_alert_fails_the_night_until_it_is_delivered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    drift = ["drift", "--rootdir", str(tmp_path)]
    keep = "history: {keep: 4}\n"
    with WebhookReceiver() as hook:
        monkeypatch.setenv("NIGHTLY_HOOK", hook.url)
        for night in (1, 2):
            write_night(tmp_path, night, extra=keep)
            assert main(drift) == 0
        assert not hook.messages  # nothing to tell: no delivery, no failure
        hook.fail_next(1000, status=503)  # the receiver is down from now on
        write_night(tmp_path, 3, SILENT, extra=keep)
        assert main(drift) == 1
        capsys.readouterr()
        # tonight is fine (the drifted night is not reference), but the spooled alert
        # and tonight's "resolved" are not delivered: the night still fails, and says why
        write_night(tmp_path, 4, extra=keep)
        assert main([*drift, "--report-json", str(tmp_path / "night4.json")]) == 1
        out = capsys.readouterr().out
        assert "llmguard drift: OK" in out
        assert "webhook: 2 message(s) NOT delivered (delivery failed): spooled" in out
        failed = json.loads((tmp_path / "night4.json").read_text())["drift"]
        assert failed["verdict"] == "ok" and failed["alerts_failed"] is True
        assert any("NOT delivered" in line for line in failed["alerts"])
        report_path = tmp_path / "night5.json"
        assert not hook.messages
        hook.recover()
        write_night(tmp_path, 5, extra=keep)
        assert main([*drift, "--report-json", str(report_path)]) == 0
        assert "webhook: 2 message(s) delivered" in capsys.readouterr().out
        texts = [m["text"] for m in hook.messages]
        assert "New drift" in texts[0] and "Drift resolved" in texts[1]
        assert json.loads(report_path.read_text())["drift"]["alerts_failed"] is False
    # retention: the drift history keeps the newest 4 nights (history.keep)
    digests = sorted((tmp_path / ".llmguard/history").glob("*.digest.json"))
    assert [p.name[:5] for p in digests] == ["00002", "00003", "00004", "00005"]


def test_doubled_output_tokens_are_a_metric_shift_against_the_pooled_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for night in (1, 2):
        write_night(tmp_path, night)
        assert main(["drift", "--rootdir", str(tmp_path), "--no-alerts"]) == 0
    write_night(tmp_path, 3, ", verbosity: 2.0")
    report_path = tmp_path / "night3.json"
    args = ["drift", "--rootdir", str(tmp_path), "--no-alerts", "--report-json", str(report_path)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "tested: metric shifts:" in out and "against the 2 reference nights pooled" in out
    findings = json.loads(report_path.read_text())["drift"]["findings"]
    shifts = [f for f in findings if f["kind"] == "metric" and f["verdict"] == "fail"]
    assert "output_tokens_mean" in {f["subject"] for f in shifts}
