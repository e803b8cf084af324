"""Every injected fault, through the plugin: the run completes, classifies, reports and gates.

One ``pytest --llmguard`` run holds a target per fault (the fault is a target header, so
every case of that target gets it), plus a healthy target and two that fail once and then
succeed. The tests below read that one run: its exit code, terminal output, JSON report
and the simulator's request log. The single-call version of this matrix, against the
client alone, is tests/test_targets_openai.py.
"""

from __future__ import annotations

import json
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SimLog
from tests.reliability.project import Project, Run

RETRIES = 1  # run.retries.max: a retried fault is tried RETRIES + 1 times
CASES = [
    {"id": "refund", "prompt": "How long do I have to ask for a refund?"},
    {"id": "shipping", "prompt": "How long does shipping take to Canada?"},
]


@dataclass(frozen=True)
class Fault:
    """One row of the fault table: a target that gets this fault, and what must happen."""

    target: str
    headers: dict[str, str]
    cls: str | None  # the error class; None: the call ends in success
    status: int | None
    retried: bool
    model: str = "sim-stable"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def attempts(self) -> int:
        return RETRIES + 1 if self.retried else 1


def _fault(name: str, **headers: str) -> dict[str, str]:
    return {"x-sim-fault": name, **{k.replace("_", "-"): v for k, v in headers.items()}}


STREAM = {"stream": True}
SHORT_TIMEOUT = {"timeout_s": 0.5}
# The models are all exact-answer sim versions; a distinct model gives a target its own
# rows in the simulator's log and its own attempt counter (x-sim-fault-once counts
# attempts per model and prompt).
FAULTS = [
    Fault("refused", {}, "connection", None, True),
    Fault("timeout", _fault("timeout"), "timeout", None, True, options=SHORT_TIMEOUT),
    Fault("trickle", _fault("slow_trickle"), "timeout", None, True, options=SHORT_TIMEOUT),
    Fault(
        "trickle_stream",
        _fault("slow_trickle"),
        "timeout",
        None,
        True,
        options={**SHORT_TIMEOUT, **STREAM},
    ),
    Fault("reset", _fault("reset"), "connection", None, True),
    Fault("truncated", _fault("truncated"), "connection", None, True),
    Fault("truncated_stream", _fault("truncated"), "connection", None, True, options=STREAM),
    Fault("no_done_stream", _fault("no_done"), "invalid_response", None, False, options=STREAM),
    Fault(
        "r429_seconds",
        _fault("rate_limit", x_sim_retry_after="1"),
        "rate_limit",
        429,
        True,
        model="sim-wordy",
    ),
    Fault(
        "r429_date",
        _fault("rate_limit", x_sim_retry_after="2", x_sim_retry_after_date="1"),
        "rate_limit",
        429,
        True,
        model="sim-drifted",
    ),
    # OpenAI's insufficient_quota comes as a 429 but no wait helps: a client error, not retried.
    Fault("quota", _fault("quota_exhausted"), "client_error", 429, False),
    *(
        Fault(
            f"s{code}", _fault("server_error", x_sim_status=str(code)), "server_error", code, True
        )
        for code in (500, 502, 503, 504)
    ),
    *(
        Fault(
            f"c{code}", _fault("client_error", x_sim_status=str(code)), "client_error", code, False
        )
        for code in (400, 401, 403, 404, 422)
    ),
    Fault("malformed", _fault("malformed"), "invalid_response", None, False),
    Fault("malformed_stream", _fault("malformed"), "invalid_response", None, False, options=STREAM),
    Fault("wrong_shape", _fault("wrong_shape"), "invalid_response", None, False),
    Fault("empty_choices", _fault("empty_choices"), "invalid_response", None, False),
    Fault("non_utf8", _fault("non_utf8"), "invalid_response", None, False),
    Fault("non_utf8_stream", _fault("non_utf8"), "invalid_response", None, False, options=STREAM),
    Fault("huge", _fault("huge"), "invalid_response", None, False),
    Fault(
        "huge_stream",
        _fault("huge"),
        "invalid_response",
        None,
        False,
        options=STREAM,
    ),
    # Fails on the first attempt only: retried, then the case passes.
    Fault(
        "once_5xx",
        {"x-sim-fault-once": "server_error"},
        None,
        None,
        True,
        model="sim-candidate",
    ),
    Fault(
        "once_429",
        {"x-sim-fault-once": "rate_limit", "x-sim-retry-after": "0"},
        None,
        None,
        True,
        model="sim-slow",
    ),
]
FAILING = [f for f in FAULTS if f.cls is not None]
BY_CLASS = [pytest.param(f, id=f.target) for f in FAILING]


@dataclass(frozen=True)
class MatrixRun:
    run: Run
    log: list[dict[str, Any]]

    @property
    def report(self) -> dict[str, Any]:
        return self.run.report()

    def cases_of(self, target: str) -> list[dict[str, Any]]:
        return [c for c in self.report["cases"] if c["target"] == target]


def configure_matrix(project: Project, targets: dict[str, dict[str, Any]]) -> None:
    """A matrix run's config: its targets, quick retries, a JSON report, a gate that the
    failing targets fail (the healthy and fail-once ones alone would pass it)."""
    project.config(
        targets,
        run={
            "concurrency": 64,
            # generous: a loaded CI machine must not turn a healthy call into a timeout
            # (retried, so it would show as a second attempt the policy did not allow)
            "timeout_s": 60,
            "retries": {"max": RETRIES, "backoff_base_s": 0.01, "backoff_max_s": 0.05},
        },
        extra="report: {json: report.json}\n"
        "budgets: {error_rate: {max: 0.5}}\n"
        "gate: {min_cases: 1}\n",
    )


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory, sim_url: str, refused_url: str) -> MatrixRun:
    project = Project(tmp_path_factory.mktemp("matrix"))
    targets: dict[str, dict[str, Any]] = {
        "healthy": {"provider": "openai", "base_url": sim_url, "model": "sim-stable"}
    }
    for f in FAULTS:
        url = refused_url if f.target == "refused" else sim_url
        targets[f.target] = {
            "provider": "openai",
            "base_url": url,
            "model": f.model,
            "headers": f.headers,
            **f.options,
        }
    configure_matrix(project, targets)
    project.golden("faults", CASES)
    log = SimLog(sim_url)
    log.reset()
    run = project.run("-p", "no:cacheprovider")
    return MatrixRun(run, log.requests())


def test_the_run_completes_reports_and_fails_the_gate(matrix: MatrixRun) -> None:
    run = matrix.run
    assert run.ret == 1, run.output
    report = matrix.report
    assert report["run"]["partial"] is False
    assert report["verdict"] == "fail"
    assert len(report["cases"]) == len(CASES) * (len(FAULTS) + 1)
    assert "Traceback" not in run.output
    assert "INTERNALERROR" not in run.output
    failed = {line.split()[1] for line in run.stdout.splitlines() if line.startswith("FAILED ")}
    expected = {f"golden_sets/faults.yaml::{c['id']}[{f.target}]" for f in FAILING for c in CASES}
    assert {n for n in failed if n.startswith("golden_sets/")} == expected


@pytest.mark.parametrize("fault", BY_CLASS)
def test_each_fault_is_classified_on_every_case(matrix: MatrixRun, fault: Fault) -> None:
    cases = matrix.cases_of(fault.target)
    assert len(cases) == len(CASES)
    for case in cases:
        assert case["passed"] is False
        assert case["output"] is None and case["latency_ms"] is None
        assert case["error"]["class"] == fault.cls, case["error"]
        assert case["error"]["status"] == fault.status, case["error"]
        assert case["error"]["message"]
        assert case["attempts"] == fault.attempts, "retried only when the policy says"
    target = matrix.report["targets"][fault.target]
    assert target["errors_by_class"][fault.cls] == len(CASES)
    assert sum(target["errors_by_class"].values()) == len(CASES)
    assert target["metrics"]["error_rate"] == 1.0


@pytest.mark.parametrize("fault", BY_CLASS)
def test_each_failing_item_names_the_class(matrix: MatrixRun, fault: Fault) -> None:
    for case in CASES:
        text = matrix.run.failure_text(f"faults::{case['id']}[{fault.target}]")
        # The status is said once, by the message itself (issue #16: not "(HTTP 429): HTTP 429").
        status = f" HTTP {fault.status}:" if fault.status else ""
        assert f"call failed after {fault.attempts} attempt(s): {fault.cls}:{status} " in text
        assert f"(HTTP {fault.status})" not in text


def test_an_exhausted_quota_says_so_and_is_not_retried(matrix: MatrixRun) -> None:
    for case in matrix.cases_of("quota"):
        message = case["error"]["message"]
        assert message.startswith("HTTP 429: insufficient_quota: You exceeded your current quota")
        assert "not retried" in message and case["attempts"] == 1


@pytest.mark.parametrize("fault", FAILING, ids=[f.target for f in FAILING])
def test_the_gate_judges_each_faulty_target(matrix: MatrixRun, fault: Fault) -> None:
    (judged,) = [
        c
        for c in matrix.report["comparisons"]
        if c["metric"] == "error_rate" and c["candidate"] == fault.target
    ]
    assert judged["verdict"] == "fail"
    assert judged["candidate_value"] == 1.0


def test_healthy_and_once_faulty_targets_pass(matrix: MatrixRun) -> None:
    for target in ("healthy", "once_5xx", "once_429"):
        for case in matrix.cases_of(target):
            assert case["passed"] is True and case["error"] is None, case
            assert case["attempts"] == (1 if target == "healthy" else 2)
        info = matrix.report["targets"][target]
        assert sum(info["errors_by_class"].values()) == 0
        verdicts = [
            c["verdict"]
            for c in matrix.report["comparisons"]
            if c["metric"] == "error_rate" and c["candidate"] == target
        ]
        assert verdicts == ["pass"]


def _log_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["model"], row["fault"], row["status"], bool(row["stream"]))


@pytest.mark.parametrize("fault", [p for p in BY_CLASS if p.id != "refused"])
def test_the_simulator_saw_exactly_the_attempts_the_policy_allows(
    matrix: MatrixRun, fault: Fault
) -> None:
    name = fault.headers["x-sim-fault"]
    status = None if name == "timeout" else fault.status or 200
    key = (fault.model, name, status, bool(fault.options.get("stream")))
    seen = Counter(_log_key(r) for r in matrix.log)
    assert seen[key] == len(CASES) * fault.attempts, seen


def test_once_faulty_targets_are_retried_once(matrix: MatrixRun) -> None:
    for model in ("sim-candidate", "sim-slow"):
        rows = [r for r in matrix.log if r["model"] == model]
        assert sorted(r["attempt"] for r in rows) == [1, 1, 2, 2]
        assert [r["fault"] is None for r in rows].count(True) == len(CASES)


@pytest.mark.parametrize("model", ["sim-wordy", "sim-drifted"], ids=["seconds", "http-date"])
def test_retry_after_is_waited_for(matrix: MatrixRun, model: str) -> None:
    by_prompt: dict[str, list[float]] = defaultdict(list)
    for row in matrix.log:
        if row["model"] == model:
            by_prompt[row["prompt_sha"]].append(float(row["t"]))
    assert len(by_prompt) == len(CASES)
    for times in by_prompt.values():
        first, second = sorted(times)
        # Retry-After is 1 s (seconds form) or a date 1-2 s ahead (second resolution).
        assert second - first >= 0.95


# ---- a mixed run: only some cases fault, across two xdist workers -----------------------

MIXED_CASES = [
    {"id": f"q{i:02d}", "prompt": f"Question number {i} about the account"} for i in range(20)
]


def test_a_mixed_run_fails_only_the_faulty_cases_and_gates(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config(
        {
            "baseline": {"provider": "sim", "model": "sim-stable"},
            "candidate": {"provider": "sim", "model": "sim-flaky"},
        },
        # 429s are not retried here, 5xx are: with this seed the simulator's per-attempt
        # dice give some first-time passes, some 5xx-then-pass and some 429 failures.
        run={
            "concurrency": 8,
            "timeout_s": 5,
            "retries": {"max": 1, "on": ["server_error"], "backoff_base_s": 0.01},
        },
        extra="sim: {seed: 60, latency_scale: 0.05}\n"
        "compare: {baseline: baseline, candidate: candidate}\n"
        "budgets: {error_rate: {max: 0.05}}\n"
        "gate: {min_cases: 5}\n"
        "report: {json: report.json}\n",
    )
    project.golden("mixed", MIXED_CASES)
    run = project.run("-n", "2", "-p", "no:cacheprovider")
    assert "Traceback" not in run.output
    report = run.report()
    cases = {c["id"]: c for c in report["cases"] if c["target"] == "candidate"}
    assert len(cases) == len(MIXED_CASES)
    failed = {i for i, c in cases.items() if not c["passed"]}
    retried_ok = {i for i, c in cases.items() if c["passed"] and c["attempts"] == 2}
    first_time = {i for i, c in cases.items() if c["passed"] and c["attempts"] == 1}
    assert failed and retried_ok and first_time, "the seed must give all three kinds"
    assert failed | retried_ok | first_time == set(cases)
    for i in failed:
        assert cases[i]["error"]["class"] == "rate_limit" and cases[i]["attempts"] == 1
    info = report["targets"]["candidate"]
    assert {k: v for k, v in info["errors_by_class"].items() if v} == {"rate_limit": len(failed)}
    assert info["metrics"]["error_rate"] == pytest.approx(len(failed) / len(MIXED_CASES))
    assert all(c["passed"] for c in report["cases"] if c["target"] == "baseline")
    (gate,) = [c for c in report["comparisons"] if c["metric"] == "error_rate"]
    assert gate["candidate"] == "candidate"
    assert gate["candidate_value"] == pytest.approx(len(failed) / len(MIXED_CASES))
    assert gate["verdict"] == "fail", gate  # above the 5 % max
    assert run.ret == 1
    reported = {
        line.split("::")[1].split("[")[0]
        for line in run.stdout.splitlines()
        if line.startswith("FAILED golden_sets/mixed.yaml")
    }
    assert reported == failed


def test_models_defined_in_config_are_served(tmp_path: Path) -> None:
    from pytest_llmguard.config import load_config
    from pytest_llmguard.sim.provider import running_simulator

    project = Project(tmp_path)
    project.config(
        {"candidate": {"provider": "sim", "model": "sim-mine"}},
        run={"concurrency": 1},
        extra="sim: {models: {sim-mine: {base: sim-stable, latency_ms: 5}}}\n",
    )
    config = load_config(str(tmp_path))
    with running_simulator(config.sim, {}) as url:
        assert url is not None
        with urllib.request.urlopen(url + "/models", timeout=5) as resp:
            served = {m["id"] for m in json.loads(resp.read())["data"]}
    assert "sim-mine" in served
