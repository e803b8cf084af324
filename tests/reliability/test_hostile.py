"""One hostile response never wipes a run: odd *content*, not only odd HTTP.

One ``pytest --llmguard`` run (a real subprocess, so the calls stream from a forked call
child) against ``HostileServer``, whose reply to each case is scripted: outputs that broke
scoring (5,000 nested brackets, a 5,000-digit number), usage that broke pricing (400
digits, negative, NaN, not an object), lone surrogates and terminal escapes in model
names and error messages, errors inside a 200 stream, redirects to another host, and
malformed HTTP. Each row of ``ROWS`` says what its case must end as; the tests below read
that one run: its exit code, terminal output, reports, saved run and the servers' logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.hostile_server import (
    DONE,
    HostileServer,
    Reply,
    chunk,
    completion,
    error_body,
    redirect,
    stream,
)
from tests.reliability.project import Project, Run

RETRIES = 1  # run.retries.max, retrying connection faults too
BEARER = "sk-hostileBEARER0123456789abcdef"
AZURE = "hostile-azure-key-4711"
CUSTOM = "hostile-custom-header-secret"
PASSWORD = "hunter2-userinfo-secret"
ESCAPES = "\x1b]0;pwned-title\x07\x1b[31mred\x1b[0m \u202eevil\u202c"
COMMANDS = "\n::error::forged annotation\n  ::add-mask::x\n##[group]forged\n##vso[task.x]y"


def _raw(head: str, body: bytes) -> Reply:
    return Reply(raw=head.replace("\n", "\r\n").encode() + b"\r\n" + body)


@dataclass(frozen=True)
class Row:
    """A case, the reply the server scripts for it, and how the case must end."""

    id: str
    reply: Reply
    cls: str | None  # the error class; None: the call succeeds
    attempts: int = 1
    status: int | None = None
    message: str = ""  # part of the error message (or of a failed check's detail)
    stream: bool = False
    case: dict[str, Any] = field(default_factory=dict)


NESTED = "[" * 5000
ROWS = [
    Row("healthy", completion("You can ask for a refund within 30 days."), None),
    Row("nested_similarity", completion(NESTED), None, case={"expected": "[1, 2]"}),
    Row(
        "nested_schema",
        completion(NESTED),
        None,
        message="nested too deeply",
        case={"checks": [{"json_schema": {"type": "array"}}]},
    ),
    Row(
        "digits_schema",
        completion("1" * 5000),
        None,
        message="not usable JSON",
        case={"checks": [{"json_schema": {"type": "integer"}}]},
    ),
    Row(
        "usage_400_digits",
        completion(usage={"prompt_tokens": int("9" * 400), "completion_tokens": 5}),
        "invalid_response",
        message="400 digits",
    ),
    Row(
        "usage_25_digits",
        completion(usage={"prompt_tokens": 10, "completion_tokens": int("1" * 25)}),
        "invalid_response",
        message="completion_tokens",
    ),
    Row(
        "usage_negative",
        completion(usage={"prompt_tokens": -1_000_000, "completion_tokens": 5}),
        "invalid_response",
        message="-1000000",
    ),
    Row(
        "usage_nan",
        completion(usage={"prompt_tokens": float("nan"), "completion_tokens": 5}),
        "invalid_response",
        message="not a token count",
    ),
    Row(
        "usage_infinite",
        completion(usage={"prompt_tokens": 5, "completion_tokens": float("inf")}),
        "invalid_response",
    ),
    Row("usage_not_object", completion(usage="lots"), "invalid_response", message="usage"),
    Row(
        "usage_details_not_object",
        completion(usage={"prompt_tokens": 5, "prompt_tokens_details": 7}),
        "invalid_response",
    ),
    Row("surrogate_model", completion(model="bad\ud800model", finish_reason="st\udc00op"), None),
    Row(
        "surrogate_error",
        error_body(400, "bad \ud800 request"),
        "client_error",
        status=400,
        message="bad \ufffd request",
    ),
    Row(
        "escape_model",
        completion("Fine.", model=ESCAPES + COMMANDS),
        None,
        message="a phrase never said",
        case={"checks": [{"contains": "a phrase never said"}]},
    ),
    Row("escape_error", error_body(400, "boom " + ESCAPES + COMMANDS), "client_error", status=400),
    Row("deep_body", Reply(200, [], b"[" * 100_000), "invalid_response"),
    Row(
        "dup_content_length",
        _raw("HTTP/1.1 200 OK\nContent-Length: 7\nContent-Length: 9\nConnection: close\n", b"{}"),
        "invalid_response",
        message="Duplicate Content-Length",
    ),
    Row(
        "bad_chunk_size",
        _raw(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: close\n", b"zz\r\nab\r\n0\r\n"
        ),
        "invalid_response",
        message="chunk size",
    ),
    Row(
        "retry_after_overflow",
        Reply(429, [("Retry-After", "Mon, 01 Jan 99999999999 00:00:00 GMT")], b"{}"),
        "rate_limit",
        attempts=RETRIES + 1,
        status=429,
    ),
    Row("redirect_away", Reply(), "client_error", status=307, message="do not follow redirects"),
    Row("redirect_loop", Reply(), "client_error", status=307, message="redirected to"),
    Row(
        "stream_error_chunk",
        stream(chunk("Partial "), b'data: {"error": {"message": "boom", "code": 500}}\n\n', DONE),
        "server_error",
        attempts=RETRIES + 1,
        status=500,
        message="error inside the response stream: boom",
        stream=True,
    ),
    Row(
        "stream_error_event",
        stream(
            chunk("Partial "),
            b"event: error\n"
            b'data: {"type": "error", "error": {"type": "overloaded", "message": "Over"}}\n\n',
        ),
        "server_error",
        attempts=RETRIES + 1,
        message="error inside the response stream: Over",
        stream=True,
    ),
    Row(
        "stream_error_400",
        stream(chunk("Partial "), b'data: {"error": {"message": "bad", "code": 400}}\n\n'),
        "client_error",
        status=400,
        stream=True,
    ),
    Row(
        "stream_model_list",
        stream(chunk("Hi", model=["a", "list"]), DONE),
        "invalid_response",
        message="model is not text",
        stream=True,
    ),
    Row(
        "stream_usage_negative",
        stream(chunk("Hi"), chunk(usage={"prompt_tokens": 5, "completion_tokens": -3}), DONE),
        "invalid_response",
        stream=True,
    ),
]
BY_ID = {row.id: row for row in ROWS}


@dataclass(frozen=True)
class HostileRun:
    run: Run
    server: HostileServer
    elsewhere: HostileServer

    @property
    def report(self) -> dict[str, Any]:
        return self.run.report()

    def case(self, case_id: str, target: str) -> dict[str, Any]:
        (found,) = [c for c in self.report["cases"] if c["id"] == case_id and c["target"] == target]
        return found


def _target(url: str, name: str, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    """A target at ``url`` whose requests say they come from ``name`` (scripts pick by it)."""
    spec = {"provider": "openai", "base_url": url, "model": "gpt-4o-mini", **extra}
    return spec | {"headers": {"x-hostile-target": name, **(headers or {})}}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    server, elsewhere = HostileServer(), HostileServer()
    url, other = server.start(), elsewhere.start()
    for row in ROWS:
        reply = row.reply
        if row.id == "redirect_away":
            reply = redirect(other + "/chat/completions")
        elif row.id == "redirect_loop":
            reply = redirect(url + "/chat/completions")
        server.script(row.id, reply, target="sse" if row.stream else "json")
    project = Project(tmp_path_factory.mktemp("hostile"))
    host = url.split("://", 1)[1]
    project.config(
        {
            "json": _target(url, "json", api_key_env="HOSTILE_BEARER"),
            "azure": _target(
                url,
                "json",
                api_key_env="HOSTILE_AZURE",
                auth_header="api-key",
                headers={"x-api-key": CUSTOM},
            ),
            "sse": _target(url, "sse", stream=True),
            "userinfo": _target(f"http://llmguard:{PASSWORD}@{host}", "userinfo"),
        },
        run={
            "concurrency": 16,
            "timeout_s": 10,
            "retries": {
                "max": RETRIES,
                "on": ["timeout", "rate_limit", "server_error", "connection"],
                "backoff_base_s": 0.01,
                "backoff_max_s": 0.05,
                "respect_retry_after": True,
            },
        },
        extra="report: {json: report.json, markdown: report.md}\n",
    )
    project.golden("hostile", [{"id": r.id, "prompt": r.id, **r.case} for r in ROWS])
    env = {"HOSTILE_BEARER": BEARER + "\n", "HOSTILE_AZURE": AZURE}
    run = project.run("-p", "no:cacheprovider", "--llmguard-save", "saved.json", env=env)
    yield HostileRun(run, server, elsewhere)
    server.stop()
    elsewhere.stop()


def test_one_output_never_takes_down_the_others(hostile: HostileRun) -> None:
    run = hostile.run
    assert run.ret == 1, run.output  # cases failed; the run itself went through
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    report = hostile.report
    assert report["run"]["complete"] is True and report["run"]["partial"] is False
    assert len(report["cases"]) == len(ROWS) * 4
    for target in ("json", "azure"):
        assert hostile.case("healthy", target)["passed"] is True
    assert hostile.case("nested_similarity", "json")["scores"]["similarity"] is not None


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS if r.id != "healthy"])
def test_each_hostile_reply_gets_its_class(hostile: HostileRun, row: Row) -> None:
    targets = ["sse"] if row.stream else ["json", "azure"]
    for target in targets:
        case = hostile.case(row.id, target)
        error = case["error"]
        if row.cls is None:
            assert error is None, case
            if row.message:
                details = " ".join(c["detail"] for c in case["checks"] if not c["passed"])
                assert row.message in details, case["checks"]
            continue
        assert error is not None and error["class"] == row.cls, (target, error)
        assert case["attempts"] == row.attempts, (target, case["attempts"], error)
        assert error["status"] == row.status, error
        assert row.message in error["message"], error["message"]
        assert case["cost_usd"] is None  # nonsense usage is never priced


def test_strings_from_the_wire_are_written_as_valid_utf8(hostile: HostileRun) -> None:
    project = hostile.run.path
    for name in ("report.json", "saved.json", "report.md"):
        (project / name).read_bytes().decode("utf-8")  # strict: a lone surrogate fails here
    case = hostile.case("surrogate_model", "json")
    assert case["model"] == "bad\ufffdmodel" and case["finish_reason"] == "st\ufffdop"


def test_the_terminal_gets_no_escapes_and_no_workflow_commands(hostile: HostileRun) -> None:
    out = hostile.run.output
    assert "pwned-title" in out, "the hostile texts are shown, neutralised"
    assert "forged annotation" in out
    for raw in ("\x1b", "\x07", "\u202e", "\u202c"):
        assert raw not in out, f"{raw!r} reached the terminal"
    for line in out.splitlines():
        assert not line.lstrip().startswith(("::", "##")), line


def test_no_credential_leaves_for_another_host(hostile: HostileRun) -> None:
    assert hostile.elsewhere.requests == [], "the redirect was followed"
    for target in ("json", "azure"):
        error = hostile.case("redirect_away", target)["error"]
        assert "redirected to http://127.0.0.1" in error["message"]
    # the keys did reach the host they belong to
    assert any(r.headers.get("api-key") == AZURE for r in hostile.server.requests)
    assert any(r.headers.get("x-api-key") == CUSTOM for r in hostile.server.requests)


def test_a_key_with_a_trailing_newline_is_stripped_and_said_at_start_up(
    hostile: HostileRun,
) -> None:
    header = hostile.run.stdout.split("collected", 1)[0]
    assert "HOSTILE_BEARER ends (or starts) with whitespace" in header
    bearer = {
        r.headers.get("authorization")
        for r in hostile.server.requests
        if r.headers.get("authorization", "").startswith("Bearer ")
    }
    assert bearer == {f"Bearer {BEARER}"}


def test_userinfo_in_base_url_is_redacted_everywhere(hostile: HostileRun) -> None:
    assert hostile.case("healthy", "userinfo")["passed"] is True  # the URL still works
    assert "[REDACTED]@" in hostile.report["targets"]["userinfo"]["base_url"]
    written = [p for p in hostile.run.path.rglob("*") if p.is_file() and p.name != "llmguard.yaml"]
    leaks = [str(p) for p in written if PASSWORD.encode() in p.read_bytes()]
    assert leaks == []
    assert PASSWORD not in hostile.run.output
    for secret in (BEARER, AZURE, CUSTOM):
        assert not [str(p) for p in written if secret.encode() in p.read_bytes()]


def test_scoring_survives_a_5000_deep_output_alone() -> None:
    """The same killers straight through the scorer: each case scored, none raises."""
    from pytest_llmguard.config.records import QualitySettings
    from pytest_llmguard.records import Case, Check, Message, Observation
    from pytest_llmguard.scoring import score_batch

    outputs = [NESTED, "1" * 5000, "{" * 3000 + '"a": 1', "fine"]
    cases = [
        Case(
            "s",
            "s.yaml",
            f"c{i}",
            (Message("user", "q"),),
            expected="[1]",
            checks=(Check("json_schema", {"type": "array"}),),
        )
        for i in range(len(outputs))
    ]
    observations = [
        Observation(f"s.yaml::c{i}", "t", 0, "m", out, 1.0) for i, out in enumerate(outputs)
    ]
    scored = score_batch(cases, observations, QualitySettings())
    assert [s.observation.output for s in scored] == outputs
    assert all(s.scores.get("similarity") is not None for s in scored)
    assert all(c.name == "json_schema" for s in scored for c in s.checks)


def test_reports_are_read_back_by_llmguard_report(hostile: HostileRun) -> None:
    from pytest_llmguard.cli import main

    saved = Path(hostile.run.path) / "saved.json"
    assert json.loads(saved.read_text(encoding="utf-8"))["run"]["complete"] is True
    assert main(["report", str(saved)]) == 0


def test_one_output_that_breaks_a_scorer_fails_its_own_case_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scorer (or the batch similarity) that raises on one output: that case fails with a
    ``scoring`` check naming the error, every other case is scored as usual."""
    from pytest_llmguard import scoring
    from pytest_llmguard.config.records import QualitySettings
    from pytest_llmguard.records import Case, Message, Observation

    real_repetition = scoring.repetition_metric.repetition_score
    real_pair = scoring.pair_similarity

    def repetition(output: str) -> float:
        if output == "poison":
            raise OverflowError("int too large to convert to float")
        return real_repetition(output)

    def batch(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    def pair(out: str, ref: str, *args: Any, **kwargs: Any) -> float:
        if out == "unpairable":
            raise ValueError("exceeds the limit for integer string conversion")
        return real_pair(out, ref, *args, **kwargs)

    monkeypatch.setattr(scoring.repetition_metric, "repetition_score", repetition)
    monkeypatch.setattr(scoring, "similarity_batch", batch)
    monkeypatch.setattr(scoring, "pair_similarity", pair)
    outputs = ["fine answer", "poison", "unpairable", "another fine answer"]
    cases = [
        Case("s", "s.yaml", f"c{i}", (Message("user", "q"),), expected="fine answer")
        for i in range(len(outputs))
    ]
    observations = [
        Observation(f"s.yaml::c{i}", "t", 0, "m", out, 1.0) for i, out in enumerate(outputs)
    ]
    fine, poisoned, unpairable, other = scoring.score_batch(cases, observations, QualitySettings())
    for ok in (fine, other):
        assert ok.passed and ok.scores["similarity"] is not None, ok
    assert fine.scores["similarity"] == pytest.approx(1.0)
    assert not poisoned.passed
    (check,) = poisoned.checks
    assert check.name == "scoring" and "OverflowError: int too large" in check.detail
    assert poisoned.scores["similarity"] is not None  # what was scored is kept
    assert unpairable.scores["similarity"] is None  # no score for the pair that broke
    assert unpairable.scores["repetition"] is not None
