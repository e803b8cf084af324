"""Production logs in a pytest run: log cases as items, provenance in the report, the
production baseline, the options, and the config errors (pytester, the real simulator)."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import SimLog
from tests.test_plugin import REPORT_SCHEMA, SUPPORT, XDIST

DATA = Path(__file__).resolve().parents[1] / "data" / "logs"


def write_project(pytester: pytest.Pytester, sim_url: str, logs: str, compare: str = "") -> None:
    config = (
        "golden_sets: [golden_sets/]\n"
        "targets:\n"
        f'  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}\n'
        f'  candidate: {{provider: openai, base_url: "{sim_url}", model: sim-candidate}}\n'
        "run: {concurrency: 8, timeout_s: 5, retries: {max: 2, backoff_base_s: 0.01}}\n"
        "report: {json: report.json}\n"
        "gate: {min_cases: 5}\n"
        "budgets:\n"
        "  latency_p50_ms: {max_increase: '50%'}\n"
        "  error_rate: {max_increase: 0.5}\n"
        f"{logs}{compare}"
    )
    (pytester.path / "llmguard.yaml").write_text(config)
    (pytester.path / "golden_sets").mkdir(exist_ok=True)
    (pytester.path / "golden_sets" / "support.yaml").write_text(SUPPORT)
    (pytester.path / "golden_sets" / "conftest.py").write_text("")  # -n 2 starts workers
    (pytester.path / "logs").mkdir(exist_ok=True)
    shutil.copy(DATA / "openai" / "app.jsonl", pytester.path / "logs" / "app.jsonl")
    shutil.copy(DATA / "litellm" / "standard-logging.jsonl", pytester.path / "logs" / "ll.jsonl")


LOGS = "logs: {sources: [{path: 'logs/*.jsonl'}], sample: {n: 10, seed: 3}}\n"
PRODUCTION = "compare: {baseline: production, candidate: candidate}\n"
ITEM = re.compile(r"(logs/(?:app|ll)\.jsonl::[a-z0-9-]+\[(?:baseline|candidate)\])")


@pytest.mark.parametrize("xdist", XDIST)
def test_log_cases_are_items_with_provenance_in_the_report(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, LOGS)
    result = pytester.runpytest("--llmguard", "-v", *xdist)
    result.assert_outcomes(passed=6 + 20, skipped=2)  # no baseline: the budgets skip
    items = set(ITEM.findall(result.stdout.str()))
    assert len(items) == 20
    calls = Counter((r["model"], r["prompt_sha"]) for r in sim_log.requests())
    assert sum(calls.values()) == 26 and set(calls.values()) == {1}
    result.stdout.fnmatch_lines(["llmguard: logs: sampled 10 of 32 record(s)*2 bad record(s)*"])
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    from_logs = [c for c in report["cases"] if c["provenance"]]
    assert len(from_logs) == 20
    origin = from_logs[0]["provenance"]
    assert origin["file"] in ("logs/app.jsonl", "logs/ll.jsonl") and origin["line"] >= 1
    assert origin["format"] in ("openai-jsonl", "litellm")
    assert any("sampled 10 of 32" in n for n in report["notes"])
    # nothing personal reached the simulator or the report
    sent = json.dumps(sim_log.requests())
    assert "jane.doe@example.com" not in sent
    assert "jane.doe@example.com" not in (pytester.path / "report.json").read_text()
    # the same sample again (and, under -n 2, in every worker: xdist checks they agree)
    result = pytester.runpytest("--llmguard", "--collect-only", "-q")
    assert set(ITEM.findall(result.stdout.str())) == items


def test_production_baseline_in_a_run(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, LOGS, PRODUCTION)
    result = pytester.runpytest("--llmguard")
    result.assert_outcomes(passed=6 + 20 + 2)  # cases and the two budget items
    result.stdout.fnmatch_lines(["*compared: candidate*production logs logs/*sampled record(s)*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert report["baseline"]["source"] == "production"
    latency = next(c for c in report["comparisons"] if c["metric"] == "latency_p50_ms")
    assert latency["baseline"].startswith("logs/") and latency["n_baseline"] >= 5
    # the production side covers the log cases only: the golden cases are not compared
    assert latency["n_candidate"] <= 10
    assert latency["verdict"] == "pass"  # the simulator answers far faster than the logs
    production = report["targets"]["production"]  # beside the targets, with its feedback
    assert production["provider"] == "logs" and production["n"] == 10
    assert production["metrics"]["feedback_negative_rate"] is not None


def test_options_replace_the_configured_logs(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, "")
    result = pytester.runpytest(
        "--llmguard",
        "--llmguard-logs",
        "logs/ll.jsonl",
        "--llmguard-sample",
        "3",
        "--llmguard-target",
        "candidate",
        "--collect-only",
        "-q",
    )
    found = ITEM.findall(result.stdout.str())
    assert len(found) == 3 and all(f.startswith("logs/ll.jsonl::") for f in found)
    result = pytester.runpytest("--llmguard", "--llmguard-sample", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_production_baseline_without_logs_is_a_usage_error(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url, "", PRODUCTION)
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*compare.baseline is 'production'*no logs are configured*"])


@pytest.mark.parametrize(
    ("logs", "message"),
    [
        (
            "logs: {sources: [{path: x.jsonl}], sample: {since: yesterday}}\n",
            "*llmguard.yaml:11: logs.sample.since: 'yesterday' is neither a duration*",
        ),
        (
            "logs: {sources: [{path: x.jsonl, format: otel, fields: {model: m}}]}\n",
            "*logs.sources[[]0].fields: 'fields' maps the fields of openai-jsonl records*",
        ),
        (
            "logs: {sources: [{path: x.jsonl, fields: {modle: m}}]}\n",
            "*logs.sources[[]0].fields.modle: unknown field 'modle'*did you mean 'model'*",
        ),
        ("logs: {sources: [{path: x.jsonl, format: csv}]}\n", "*logs.sources[[]0].format*"),
        ("logs: {sources: [{path: nowhere/*.jsonl}]}\n", "*nowhere/*.jsonl' matches no file*"),
    ],
)
def test_bad_logs_config_is_one_usage_error(
    pytester: pytest.Pytester, sim_url: str, logs: str, message: str
) -> None:
    write_project(pytester, sim_url, logs)
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()
