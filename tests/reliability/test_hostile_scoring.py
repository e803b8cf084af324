"""Hostile answers to the helpers of scoring: the LLM judge and the embeddings endpoint.

One run with ``quality.judge`` and embeddings configured (so the calls are made in
process, the whole batch scored at once): the judge answers each case oddly (5,000
brackets, a 400-digit score, infinity, a nested list) and the embeddings endpoint
returns vectors of unequal lengths. The run goes on, scores fuzzy only, and says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.judge import parse_verdict
from pytest_llmguard.targets.embeddings import EmbeddingClient
from tests.reliability.hostile_server import HostileServer, Reply, completion, error_body
from tests.reliability.project import Project, Run

JUDGE_ANSWERS = {
    "judge_ok": '{"score": 0.9, "reason": "fine"}',
    "judge_nested": "[" * 5000,
    "judge_digits": '{"score": ' + "9" * 400 + "}",
    "judge_infinite": '{"score": 1e999}',
    "judge_list": '{"score": [[[1]]], "reason": {"nested": [1]}}',
    "judge_loose_huge": "score: 1" + "0" * 400,
}


def _embeddings(vectors: list[list[float]]) -> Reply:
    data = [{"index": i, "embedding": v} for i, v in enumerate(vectors)]
    body = json.dumps({"data": data}, allow_nan=True).encode()
    return Reply(200, [("Content-Type", "application/json")], body)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    hostile = HostileServer()
    hostile.start()
    yield hostile
    hostile.stop()


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory: pytest.TempPathFactory, server: HostileServer) -> Run:
    for case_id, answer in JUDGE_ANSWERS.items():
        server.script(case_id, completion(f"Answer of {case_id}."), target="answers")
        server.script(f"Answer of {case_id}.", completion(answer), target="judge")
    n = len(JUDGE_ANSWERS)  # one vector per output and per reference, one of them short
    server.route("/v1/embeddings", _embeddings([[1.0, 0.0]] * (2 * n - 1) + [[1.0]]))
    project = Project(tmp_path_factory.mktemp("scoring"))
    target = {"provider": "openai", "base_url": server.url, "model": "gpt-4o-mini"}
    project.config(
        {
            "answers": {**target, "headers": {"x-hostile-target": "answers"}},
            "judge": {**target, "headers": {"x-hostile-target": "judge"}},
        },
        run={"concurrency": 8, "timeout_s": 10, "retries": {"max": 0}},
        extra="quality:\n"
        "  judge: {target: judge, rubric: 'Is the answer right?', min: 0.5}\n"
        "  similarity: {embeddings: {target: answers, model: emb-1, weight: 0.5}}\n"
        "report: {json: report.json}\n",
    )
    cases = [{"id": c, "prompt": c, "expected": f"Answer of {c}."} for c in JUDGE_ANSWERS]
    project.golden("judged", cases)
    return project.run("-p", "no:cacheprovider", "--llmguard-target", "answers")


def test_odd_judge_answers_and_embeddings_never_crash_the_run(scored_run: Run) -> None:
    assert "INTERNALERROR" not in scored_run.output and "Traceback" not in scored_run.output
    report = scored_run.report()
    assert report["run"]["complete"] is True
    cases = {c["id"]: c for c in report["cases"]}
    assert cases["judge_ok"]["scores"]["judge"] == pytest.approx(0.9)
    assert cases["judge_ok"]["passed"] is True
    for case_id in JUDGE_ANSWERS.keys() - {"judge_ok"}:
        assert cases[case_id]["scores"]["judge"] is None, case_id
    assert report["judge"]["errors"] == len(JUDGE_ANSWERS) - 1  # unusable answers, counted
    assert all(c["scores"]["similarity"] is not None for c in report["cases"])
    assert any("unequal or zero lengths" in note for note in report["notes"]), report["notes"]


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("[" * 5000, "no JSON"),
        ('{"score": ' + "9" * 400 + "}", "400 digits"),
        ('{"score": 1e999}', "not a number"),
        ('{"score": {"nested": [1, [2]]}}', "a JSON dict"),
        ("score: 1" + "0" * 400, "no JSON"),
    ],
)
def test_parse_verdict_refuses_odd_answers(answer: str, why: str) -> None:
    score, reason = parse_verdict(answer)
    assert score is None and why in reason


def _client(url: str, **extra: Any) -> EmbeddingClient:
    target = TargetConfig(name="e", provider="openai", model="m", base_url=url, **extra)
    return EmbeddingClient(target, url, "emb-1")


@pytest.mark.parametrize(
    ("vectors", "why"),
    [
        ([[1.0, 0.0], [float("nan"), 1.0]], "NaN or infinite"),
        ([[1.0, 0.0], [1.0]], "unequal or zero lengths"),
        ([[1.0, 0.0]], "1 embeddings for 2 texts"),
    ],
)
def test_unusable_embeddings_are_a_scoring_note(
    server: HostileServer, vectors: list[list[float]], why: str
) -> None:
    server.route("/unit/embeddings", _embeddings(vectors))
    client = _client(server.url.replace("/v1", "/unit"))
    assert client(["a", "b"]) is None
    assert client.problem is not None and why in client.problem


def test_embeddings_errors_never_show_url_credentials(server: HostileServer) -> None:
    server.route("/creds/embeddings", error_body(500, "down"))
    host = server.url.split("://", 1)[1].replace("/v1", "/creds")
    client = _client(f"http://user:pa55word-secret@{host}")
    assert client(["a"]) is None
    assert client.problem is not None and "500" in client.problem
    assert "pa55word-secret" not in client.problem
