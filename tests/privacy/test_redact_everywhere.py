"""``redact:`` end to end: PII and a custom id planted in prompts and outputs (the simulator
echoes prompts) never reach a file the run or ``llmguard sample`` wrote, the fake GitHub's
received bodies or the webhook's; the same scenario without ``redact`` finds every one of
them (so the scan can fail). Scoring still sees the raw text: ``no_pii`` still fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmguard.cli import main
from tests.fakes.github_server import FakeGitHub
from tests.fakes.webhook import WebhookReceiver

EMAILS = ("alice.planted@example.org", "bob.planted@example.net")
PHONES = ("+44 20 7946 0958", "(415) 555-0132")
CARDS = ("4111 1111 1111 1111", "5500 0000 0000 0004")
IDS = ("CUST-482913", "CUST-771204")
PLANTED = (*EMAILS, *PHONES, *CARDS, *IDS)
REDACT = "redact: [email, phone, credit_card, {label: customer_id, pattern: 'CUST-\\d{6}'}]\n"
TOKEN = "ghs_PRIVACYfake0123456789abcdefSECRET"
REPO = "octo/app"
INPUTS = ("llmguard.yaml", "golden_sets", "logs", "event.json")  # what the test itself wrote


def _golden() -> str:
    lines = ["name: private", "cases:"]
    for i in range(12):
        prompt = f"Customer {IDS[i % 2]} ({EMAILS[i % 2]}, {PHONES[i % 2]}) asks about order {i}"
        lines += [f"  - id: c{i:02d}", f"    prompt: {json.dumps(prompt)}"]
        answer = f"Card {CARDS[i % 2]} on file for {IDS[(i + 1) % 2]}; refund {i} is on its way."
        lines.append(f"    expected: {json.dumps(answer)}")
        if i == 0:
            lines.append("    checks: [{no_pii: true}]")
    return "\n".join(lines) + "\n"


def _log_line(i: int) -> str:
    user = f"I am {EMAILS[i % 2]}, id {IDS[i % 2]}, call me on {PHONES[i % 2]}"
    return json.dumps(
        {
            "timestamp": f"2026-11-0{i + 1}T12:00:00.000Z",
            "latency_ms": 500,
            "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": user}]},
            "response": {
                "id": f"chatcmpl-{i}",
                "model": "gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"Charged {CARDS[i % 2]}."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
            },
        }
    )


def _project(root: Path, night: int, echo: float, redact: bool) -> None:
    (root / "golden_sets").mkdir(exist_ok=True)
    (root / "golden_sets" / "private.yaml").write_text(_golden())
    (root / "golden_sets" / "conftest.py").write_text("")  # so -n 2 really starts workers
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / "app.jsonl").write_text("\n".join(_log_line(i) for i in range(4)) + "\n")
    (root / "llmguard.yaml").write_text(
        "targets: {prod: {provider: sim, model: prod-model}}\n"
        f"sim: {{seed: 3, latency_scale: 0.05, run_seed: {night}, models: "
        f"{{prod-model: {{base: sim-stable, echo_rate: {echo}}}}}}}\n"
        "run: {concurrency: 8, timeout_s: 10}\n"
        "gate: {min_cases: 5}\n"
        "report: {json: out/report.json, markdown: out/report.md, html: out/report.html}\n"
        "cache: {dir: .llmguard/cache}\n"
        "drift: {reference_runs: 2, budgets: {output_tokens_mean: {max_increase: 15%}}}\n"
        "alerts: {webhook_url_env: PRIVACY_HOOK, retries: 1, backoff_s: 0.01}\n"
        "logs: {sources: [{path: 'logs/*.jsonl'}], sample: {n: 4, seed: 1}}\n"
        + (REDACT if redact else "")
    )


def _written_texts(root: Path) -> dict[str, str]:
    texts = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_file() and rel.parts[0] not in INPUTS:
            texts[str(rel)] = path.read_bytes().decode("utf-8", "replace")
    return texts


def _scenario(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, redact: bool
) -> tuple[dict[str, str], str]:
    """Every artefact of three nights (the last one echoes, comments, records the cache),
    a replay of the cache and ``llmguard sample``: {where: text}, and the replay's report."""
    root = pytester.path
    with WebhookReceiver() as hook, FakeGitHub(token=TOKEN) as github:
        github.add_pull(REPO, 3)
        (root / "event.json").write_text(json.dumps({"pull_request": {"number": 3}}))
        for name, value in {
            "PRIVACY_HOOK": hook.url,
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_EVENT_PATH": str(root / "event.json"),
            "GITHUB_API_URL": github.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_STEP_SUMMARY": str(root / "out" / "summary.md"),
            "GITHUB_WORKSPACE": str(root),
        }.items():
            monkeypatch.setenv(name, value)
        (root / "out").mkdir(exist_ok=True)
        args = ["--llmguard", "--llmguard-drift", "-p", "no:randomly", "golden_sets"]
        stdout = []
        for night, echo in ((1, 0.0), (2, 0.0)):
            _project(root, night, echo, redact)
            stdout.append(pytester.runpytest(*args).stdout.str())
        _project(root, 3, 1.0, redact)
        last = pytester.runpytest(  # under xdist: workers' failure texts, the controller's rest
            *args,
            "--llmguard-comment",
            "--llmguard-cache=refresh",
            "--junitxml=out/junit.xml",
            "-n",
            "2",
        )
        stdout.append(last.stdout.str())
        assert "2 workers" in last.stdout.str()
        assert hook.messages, "the echoing night is a drift and is alerted"
        assert github.comments(REPO, 3), "the PR comment was posted"
        # the cache replayed (offline): no call, the recorded (redacted) outputs
        replay = pytester.runpytest(
            "--llmguard", "-p", "no:randomly", "golden_sets", "--llmguard-cache=replay"
        )
        stdout.append(replay.stdout.str())
        replayed = json.loads((root / "out" / "report.json").read_text())
        monkeypatch.chdir(root)
        assert main(["sample", "--from", "logs/*.jsonl", "-n", "4", "-o", "out/prod.yaml"]) == 0
        texts = _written_texts(root)
        texts["webhook"] = json.dumps(hook.messages, ensure_ascii=False)
        texts["github"] = json.dumps([r.body for r in github.requests], ensure_ascii=False)
        texts["stdout"] = "\n".join(stdout)
    return texts, replayed


def _found(texts: dict[str, str]) -> dict[str, list[str]]:
    return {v: sorted(w for w, t in texts.items() if v in t) for v in PLANTED}


def test_with_redact_nothing_planted_is_written_or_sent(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, replayed = _scenario(pytester, monkeypatch, redact=True)
    assert {v: w for v, w in _found(texts).items() if w} == {}
    assert any(".llmguard/cache/" in w for w in texts), "the cache was written"
    # no artefact is world-writable (the run's umask is the test process's)
    writable = [w for w in texts if "/" in w or "." in w]
    modes = {w: (pytester.path / w).stat().st_mode & 0o002 for w in writable}
    assert {w: m for w, m in modes.items() if m} == {}
    assert any(w.endswith(".samples.json") for w in texts), "the history was written"
    # scoring saw the raw text: the no_pii check of c00 failed on the echoing night
    assert "FAILED golden_sets/private.yaml::c00[prod]" in texts["stdout"]
    assert "no_pii: found credit_card (1), email (1), phone (1)" in texts["stdout"]
    # the stored text says what was redacted
    report = json.loads(texts["out/report.json"])
    assert report["cases"][0]["redacted"] == ["credit_card", "customer_id", "email", "phone"]
    assert any("redact: the stored text of 12 case(s)" in n for n in report["notes"])
    # a replay of a redacted output: no_pii cannot be re-checked, and says so
    (c00,) = [c for c in replayed["cases"] if c["id"] == "c00"]
    assert c00["cached"] is True and c00["scores"]["pii"] is None
    (check,) = c00["checks"]
    assert check["unchecked"] is True and "not re-checkable" in check["detail"]


def test_without_redact_the_same_scan_finds_every_planted_value(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts, replayed = _scenario(pytester, monkeypatch, redact=False)
    found = _found(texts)
    assert {v: w for v, w in found.items() if not w} == {}
    # the cache, the history, the reports and the posts held them
    # the PR comment and the alert mask PII kinds already, never a custom id
    assert {"github", "webhook"} <= set(found[IDS[0]])
    assert "webhook" in found[EMAILS[0]]  # the alert quotes the moved outputs
    for value in (EMAILS[0], IDS[1]):
        assert "out/report.json" in found[value]
        assert any(".llmguard/cache/" in w for w in found[value])
        assert any(".llmguard/history/" in w for w in found[value])
    assert "out/prod.yaml" in found[IDS[0]]  # sample: PII kinds only
    (c00,) = [c for c in replayed["cases"] if c["id"] == "c00"]
    assert c00["passed"] is False  # replayed raw text: no_pii is re-checked and fails
