"""The fault matrix of tests/reliability/test_fault_matrix.py for the other providers:
``anthropic`` (the simulator's Messages route), ``http`` (a template over its Chat
Completions route) and ``python`` (the example application, examples/rag, calling it).

One ``pytest --llmguard`` run per provider holds a target per fault (each with its own
simulator model, so the simulator's log tells the targets apart); the tests read that
run: classes, statuses and attempts in the JSON report, the failing items, the gate,
and the attempts the simulator saw. Every provider ends each fault in the same class.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.sim import SimModel, SimServer
from tests.reliability.project import Project
from tests.reliability.test_fault_matrix import RETRIES, MatrixRun, configure_matrix

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag"
QUESTION = "How long do I have to ask for a refund?"
CASES = [{"id": "refund", "prompt": QUESTION, "expected": "Within 30 days of purchase."}]


@dataclass(frozen=True)
class Row:
    """One fault: the target that gets it, and what must happen."""

    target: str
    headers: dict[str, str]
    cls: str | None  # None: the call ends in success
    status: int | None
    retried: bool
    stream: bool = False
    timeout_s: float | None = None
    providers: tuple[str, ...] = ("anthropic", "http", "python")

    @property
    def model(self) -> str:
        return f"m-{self.target}"

    @property
    def attempts(self) -> int:
        return RETRIES + 1 if self.retried else 1


def fault(name: str, **headers: str) -> dict[str, str]:
    return {"x-sim-fault": name, **{k.replace("_", "-"): v for k, v in headers.items()}}


ONLY_ANTHROPIC = ("anthropic",)
ROWS = [
    Row("refused", {}, "connection", None, True),
    Row("timeout", fault("timeout"), "timeout", None, True, timeout_s=0.5),
    Row("trickle", fault("slow_trickle"), "timeout", None, True, timeout_s=0.5),
    Row("trickle_stream", fault("slow_trickle"), "timeout", None, True, True, 0.5),
    Row("reset", fault("reset"), "connection", None, True),
    Row("reset_stream", fault("reset"), "connection", None, True, True),
    Row("truncated", fault("truncated"), "connection", None, True),
    Row("truncated_stream", fault("truncated"), "connection", None, True, True),
    Row("no_done_stream", fault("no_done"), "invalid_response", None, False, True),
    Row("r429", fault("rate_limit", x_sim_retry_after="1"), "rate_limit", 429, True),
    Row("r429_none", fault("rate_limit", x_sim_no_retry_after="1"), "rate_limit", 429, True),
    Row("s500", fault("server_error", x_sim_status="500"), "server_error", 500, True),
    Row("s503", fault("server_error", x_sim_status="503"), "server_error", 503, True),
    Row("c400", fault("client_error", x_sim_status="400"), "client_error", 400, False),
    Row("c401", fault("client_error", x_sim_status="401"), "client_error", 401, False),
    Row("malformed", fault("malformed"), "invalid_response", None, False),
    Row("malformed_stream", fault("malformed"), "invalid_response", None, False, True),
    Row("once_5xx", {"x-sim-fault-once": "server_error"}, None, None, True),
    Row("once_429", {"x-sim-fault-once": "rate_limit", "x-sim-retry-after": "0"}, None, None, True),
    # Anthropic's own: 529 overloaded, and an error event after the 200
    Row("s529", fault("overloaded"), "server_error", 529, True, providers=ONLY_ANTHROPIC),
    Row("s529_stream", fault("overloaded"), "server_error", 529, True, True, None, ONLY_ANTHROPIC),
    Row("stream_error", fault("stream_error"), "server_error", None, True, True, None,
        ONLY_ANTHROPIC),
]  # fmt: skip
PROVIDERS = ("anthropic", "http", "python")

CHAT = {
    "body": {"model": "{{model}}", "messages": "{{messages}}", "max_tokens": 100},
    "output_path": "choices.0.message.content",
    "usage_paths": {"input": "usage.prompt_tokens", "output": "usage.completion_tokens"},
    "error_path": "error.message",
}
CHAT_STREAM = {
    **CHAT,
    "body": {**CHAT["body"], "stream": True, "stream_options": {"include_usage": True}},
    "stream_path": "choices.0.delta.content",
    "stream_done": "[DONE]",
}
APP_ERRORS = {
    "rag_app.model.RateLimited": "rate_limit",
    "rag_app.model.ServerError": "server_error",
    "rag_app.model.Unreachable": "connection",
    "rag_app.model.BadResponse": "invalid_response",
}


def target_spec(provider: str, row: Row, url: str) -> dict[str, Any]:
    """The target of one fault row for one provider, at the simulator ``url`` (…/v1)."""
    spec: dict[str, Any] = {"provider": provider}
    if row.timeout_s is not None:
        spec["timeout_s"] = row.timeout_s
    if provider == "anthropic":
        spec.update(base_url=url, model=row.model, headers=row.headers, stream=row.stream)
    elif provider == "http":
        spec.update(base_url=url + "/chat/completions", model=row.model, headers=row.headers)
        spec.update(CHAT_STREAM if row.stream else CHAT, stream=row.stream)
    else:  # the application calls the model itself
        kwargs = {"base_url": url, "model": row.model, "headers": row.headers}
        spec.update(model="support-bot", function="rag_app.gate:answer_case", errors=APP_ERRORS)
        spec["kwargs"] = {**kwargs, "stream": row.stream}
    return spec


@dataclass(frozen=True)
class ProviderRun(MatrixRun):
    """The run of one provider's matrix, with the rows it holds."""

    provider: str = ""
    rows: list[Row] = field(default_factory=list)


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimServer]:
    models = {row.model: SimModel(row.model) for row in ROWS}
    models["m-healthy"] = SimModel("m-healthy")
    server = SimServer(models=models, seed=7, latency_scale=0.05, answers={})
    server.start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="module", params=PROVIDERS)
def matrix(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    simulator: SimServer,
    refused_url: str,
) -> ProviderRun:
    provider: str = request.param
    project = Project(tmp_path_factory.mktemp(f"matrix-{provider}"))
    if provider == "python":
        shutil.copytree(EXAMPLE / "rag_app", project.path / "rag_app")
        shutil.copytree(EXAMPLE / "docs", project.path / "docs")
    rows = [row for row in ROWS if provider in row.providers]
    url = simulator.base_url
    healthy = Row("healthy", {}, None, None, False)
    targets = {"healthy": {**target_spec(provider, healthy, url), "model": "m-healthy"}}
    if provider == "python":
        targets["healthy"]["kwargs"]["model"] = "m-healthy"
    for row in rows:
        targets[row.target] = target_spec(
            provider, row, refused_url if row.target == "refused" else url
        )
    configure_matrix(project, targets)
    project.golden("faults", CASES)
    simulator.reset()
    run = project.run("-p", "no:cacheprovider")
    return ProviderRun(run, simulator.request_log, provider, rows)


def test_the_run_completes_reports_and_fails_the_gate(matrix: ProviderRun) -> None:
    run = matrix.run
    assert run.ret == 1, run.output
    report = matrix.report
    assert report["run"]["partial"] is False and report["verdict"] == "fail"
    assert len(report["cases"]) == len(matrix.rows) + 1
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    failed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("FAILED ")}
    expected = {f"golden_sets/faults.yaml::refund[{r.target}]" for r in matrix.rows if r.cls}
    assert {n for n in failed if n.startswith("golden_sets/")} == expected


def test_each_fault_is_classified_as_for_the_openai_client(matrix: ProviderRun) -> None:
    wrong = {}
    for row in matrix.rows:
        (case,) = matrix.cases_of(row.target)
        error = case["error"]
        got = (error["class"], error["status"]) if error else (None, None)
        if got != (row.cls, row.status) or case["attempts"] != row.attempts:
            wrong[row.target] = (got, case["attempts"], error and error["message"])
        if row.cls is not None:
            assert case["output"] is None and case["passed"] is False
            judged = [
                c
                for c in matrix.report["comparisons"]
                if c["metric"] == "error_rate" and c["candidate"] == row.target
            ]
            assert [c["verdict"] for c in judged] == ["fail"]
        else:
            assert case["passed"] is True, case
    assert wrong == {}, f"{matrix.provider}: {wrong}"


def test_the_simulator_saw_exactly_the_attempts_the_policy_allows(matrix: ProviderRun) -> None:
    seen: dict[str, int] = {}
    for entry in matrix.log:
        seen[str(entry["model"])] = seen.get(str(entry["model"]), 0) + 1
    expected = {r.model: r.attempts for r in matrix.rows if r.target != "refused"}
    assert {m: seen.get(m, 0) for m in expected} == expected


def test_retry_after_is_waited_for(matrix: ProviderRun) -> None:
    times = sorted(float(e["t"]) for e in matrix.log if e["model"] == "m-r429")
    first, second = times
    assert second - first >= 0.95
