"""examples/rag, a retrieval-augmented bot gated end to end through the python provider,
run as a user would run it (its own folder, ``pytest --llmguard``) with the simulator
as its model: the change passes its budgets; a regressed model behind it fails them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.project import _LEAKY_ENV, RUN_TIMEOUT_S

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rag"


def run_example(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    project = tmp_path / "rag"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    environ = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    environ.pop("RAG_MODEL_URL", None)  # the example's conftest starts the simulator
    environ.update(env or {}, PYTHONDONTWRITEBYTECODE="1", RAG_SIM_LATENCY_SCALE="0.1")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--llmguard", "-p", "no:randomly", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    report = json.loads((project / "llmguard-report.json").read_text(encoding="utf-8"))
    return done, report


def test_the_change_passes_its_budgets_across_two_workers(tmp_path: Path) -> None:
    done, report = run_example(tmp_path, "-n", "2", "-p", "no:cacheprovider")
    assert done.returncode == 0, done.stdout + done.stderr
    assert report["verdict"] == "pass"
    assert {name: t["provider"] for name, t in report["targets"].items()} == {
        "baseline": "python",
        "candidate": "python",
    }
    cases = report["cases"]
    # every case on both targets once; the sequential gate may have looked again at some
    assert len([c for c in cases if c["repeat_index"] == 0]) == 2 * 14
    for case in cases:
        assert case["passed"] and case["error"] is None, case
        assert case["output"].endswith(".md]")  # the app's post-processing cited a source
        assert case["input_tokens"] and case["output_tokens"] and case["cost_usd"]
        assert case["model"] in ("sim-stable", "sim-candidate")  # reported by the app
    tokens = {n: t["metrics"]["input_tokens_mean"] for n, t in report["targets"].items()}
    assert tokens["candidate"] > tokens["baseline"]  # top_k 3: one more passage
    # the app's own unit tests ran with the gate: 28 cases, 5 budgets, 2 unit tests
    assert "35 passed" in done.stdout, done.stdout


def test_a_regressed_model_behind_the_app_fails_the_gate(tmp_path: Path) -> None:
    done, report = run_example(tmp_path, env={"RAG_CANDIDATE_MODEL": "sim-regressed"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert report["verdict"] == "fail"
    verdicts = {c["metric"]: c["verdict"] for c in report["comparisons"]}
    assert verdicts["check_pass_rate"] == "fail"
    # 14 cases whose answers repeat word for word: the interval may stay across the budget
    assert verdicts["similarity_mean"] in ("fail", "warn")
    candidate = [c for c in report["cases"] if c["target"] == "candidate"]
    assert any(not c["passed"] for c in candidate)
    assert all(c["passed"] for c in report["cases"] if c["target"] == "baseline")
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture()
def rag_app() -> Any:
    sys.path.insert(0, str(EXAMPLE))
    try:
        import rag_app.answer
        import rag_app.retrieval

        yield rag_app
    finally:
        sys.path.remove(str(EXAMPLE))
        for name in [m for m in sys.modules if m == "rag_app" or m.startswith("rag_app.")]:
            del sys.modules[name]


def test_retrieval_finds_each_question_s_document(rag_app: Any) -> None:
    import yaml

    index = rag_app.retrieval.Index(rag_app.retrieval.load_passages(rag_app.answer.DOCS))
    golden = yaml.safe_load((EXAMPLE / "golden_sets" / "support.yaml").read_text())
    for case in golden["cases"]:
        (best, _), *_ = index.search(case["prompt"], 2)
        cited = case["checks"][1]["regex"].split("[")[1].split("\\")[0]
        assert best.source == f"{cited}.md", case["id"]
