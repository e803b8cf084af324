"""The plugin end to end: pytest in-process (pytester) against the real simulator over HTTP."""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import SimLog

SUPPORT = """\
name: support
system: "You are Acme's support assistant."
params: {max_tokens: 200}
tags: [support]
cases:
  - id: refund-window
    prompt: "How long do I have to ask for a refund?"
    expected: "You can ask for a refund within 30 days of purchase."
    tags: [billing]
    checks:
      - contains: "30 days"
      - not_contains: "lifetime"
  - id: shipping-time
    prompt: "How long does shipping take to {{country}}?"
    vars: {country: Canada}
    expected: "Shipping to Canada takes 5 to 7 business days."
    tags: [shipping]
    checks:
      - regex: "\\\\b5 to 7\\\\b"
  - id: reset-password
    prompt: "How do I reset my password?"
    expected: "Open Settings, choose Security, then Reset password."
    checks:
      - contains: "Reset password"
"""


def write_project(
    pytester: pytest.Pytester,
    sim_url: str,
    *,
    targets: str | None = None,
    extra: str = "",
    golden: str = SUPPORT,
) -> None:
    targets = (
        targets
        or f"""
  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
  candidate: {{provider: openai, base_url: "{sim_url}", model: sim-candidate}}
"""
    )
    config = (
        "golden_sets: [golden_sets/]\n"
        f"targets:{targets}"
        "run: {concurrency: 8, timeout_s: 5, retries: {max: 2, backoff_base_s: 0.01}}\n"
        "report: {json: report.json}\n"
    )
    (pytester.path / "llmguard.yaml").write_text(config + extra)
    (pytester.path / "golden_sets").mkdir(exist_ok=True)
    (pytester.path / "golden_sets" / "support.yaml").write_text(golden)
    # A Python file next to the sets: pytest could collect ordinary tests there, so -n 2
    # really starts xdist workers (with golden sets alone the plugin declines them).
    (pytester.path / "golden_sets" / "conftest.py").write_text("")


REPORT_SCHEMA = json.loads(
    (
        Path(__file__).resolve().parent.parent / "pytest_llmguard/schemas/report.schema.json"
    ).read_text()
)
XDIST = [pytest.param([], id="single"), pytest.param(["-n", "2"], id="xdist")]
# A project conftest that declares every budget undecided at every look, for the run's
# life only: pytester runs in this process, so the next test must get the real one back.
ALWAYS_BORDERLINE = (
    "import pytest_llmguard.adaptive as s\n"
    "real = s.borderline\n"
    "def pytest_configure(config):\n"
    "    s.borderline = lambda comparison: True\n"
    "def pytest_unconfigure(config):\n"
    "    s.borderline = real\n"
)


@pytest.mark.parametrize("xdist", XDIST)
def test_each_case_target_is_an_item_and_called_once(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "golden_sets", "-v", *xdist)
    result.assert_outcomes(passed=6)
    assert re.search(
        r"(golden_sets/support\.yaml::refund-window\[baseline\] PASSED"
        r"|PASSED golden_sets/support\.yaml::refund-window\[baseline\])",
        result.stdout.str(),
    )
    calls = Counter((r["model"], r["prompt_sha"]) for r in sim_log.requests())
    assert len(calls) == 6 and set(calls.values()) == {1}
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["schema_version"] == 1
    assert {c["target"] for c in report["cases"]} == {"baseline", "candidate"}
    assert report["targets"]["candidate"]["n"] == 3


@pytest.mark.parametrize("xdist", XDIST)
def test_k_and_m_limit_what_is_called(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    write_project(pytester, sim_url)
    # xdist's controller does not report workers' deselections
    result = pytester.runpytest("--llmguard", "golden_sets", "-m", "billing", *xdist)
    result.assert_outcomes(passed=2, deselected=0 if xdist else 4)
    assert len(sim_log.requests()) == 2
    sim_log.reset()
    result = pytester.runpytest("--llmguard", "golden_sets", "-k", "shipping and candidate", *xdist)
    result.assert_outcomes(passed=1, deselected=0 if xdist else 5)
    assert [r["model"] for r in sim_log.requests()] == ["sim-candidate"]


def test_failed_check_shows_the_output(pytester: pytest.Pytester, sim_url: str) -> None:
    golden = SUPPORT.replace('- contains: "30 days"', '- contains: "90 days"')
    write_project(pytester, sim_url, golden=golden)
    result = pytester.runpytest("--llmguard", "golden_sets", "-k", "refund")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*contains*90 days*", "*output (sim-stable*", "*30 days of purchase*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_lf_reruns_only_failures(pytester: pytest.Pytester, sim_url: str, sim_log: SimLog) -> None:
    golden = SUPPORT.replace('- contains: "30 days"', '- contains: "90 days"')
    write_project(pytester, sim_url, golden=golden)
    pytester.runpytest("--llmguard", "golden_sets").assert_outcomes(failed=2, passed=4)
    sim_log.reset()
    result = pytester.runpytest("--llmguard", "golden_sets", "--lf")
    result.assert_outcomes(failed=2)  # the passing items are not even collected
    assert len(sim_log.requests()) == 2


def test_junitxml_has_one_testcase_per_item(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "golden_sets", "--junitxml=junit.xml")
    result.assert_outcomes(passed=6)
    xml = (pytester.path / "junit.xml").read_text()
    assert xml.count("<testcase ") == 6
    assert 'name="refund-window[candidate]"' in xml
    assert 'name="latency_ms"' in xml


def test_without_flag_nothing_is_collected_or_called(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest("golden_sets")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert sim_log.requests() == []


def test_plugin_import_is_cheap_without_the_flag(pytester: pytest.Pytester) -> None:
    result = pytester.run(
        sys.executable,
        "-c",
        "import sys, pytest_llmguard.plugin; "
        "heavy = ('numpy', 'aiohttp', 'rapidfuzz', 'jsonschema'); "
        "print(sorted(m for m in heavy if m in sys.modules))",
    )
    assert result.outlines[-1] == "[]"


def test_cached_replay_loads_no_http_client_or_schema_validator(
    pytester: pytest.Pytester, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGUARD_FORK", "0")  # calls in this process, so its modules show
    write_project(pytester, sim_url)
    (pytester.path / "golden_sets" / "conftest.py").write_text(
        "import sys\n\n"
        "def pytest_sessionfinish(session):\n"
        "    heavy = ('aiohttp', 'jsonschema', 'httpx', 'pytest_llmguard.sim.server')\n"
        "    loaded = sorted(m for m in heavy if m in sys.modules)\n"
        "    session.config.rootpath.joinpath('loaded.txt').write_text(repr(loaded))\n"
    )
    args = ("--llmguard", "golden_sets", "-p", "no:cacheprovider")
    pytester.runpytest_subprocess(*args, "--llmguard-cache", "record").assert_outcomes(passed=6)
    assert (pytester.path / "loaded.txt").read_text() == "['aiohttp']"
    pytester.runpytest_subprocess(*args, "--llmguard-cache", "replay").assert_outcomes(passed=6)
    assert (pytester.path / "loaded.txt").read_text() == "[]"


def test_xdist_workers_are_declined_when_only_golden_sets_are_selected(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url)
    (pytester.path / "golden_sets" / "conftest.py").unlink()
    result = pytester.runpytest("--llmguard", "golden_sets", "-n", "2")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["llmguard: -n 2 not used: only golden-set items are selected*"])
    assert "2 workers" not in result.stdout.str()
    assert len(sim_log.requests()) == 6
    # --llmguard-only deselects ordinary tests, so it declines them too
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")
    sim_log.reset()
    result = pytester.runpytest("--llmguard", "--llmguard-only", "-n", "2")
    result.assert_outcomes(passed=6, deselected=1)
    result.stdout.fnmatch_lines(["llmguard: -n 2 not used*"])
    assert len(sim_log.requests()) == 6


def test_xdist_workers_run_when_ordinary_tests_are_selected(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url)
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")
    result = pytester.runpytest("--llmguard", "golden_sets", "test_unit.py", "-n", "2")
    result.assert_outcomes(passed=7)
    assert "not used" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*2 workers*"])
    calls = Counter((r["model"], r["prompt_sha"]) for r in sim_log.requests())
    assert len(calls) == 6 and set(calls.values()) == {1}


def test_missing_api_key_is_a_clear_error_for_that_target_only(
    pytester: pytest.Pytester, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMGUARD_TEST_KEY", raising=False)
    targets = f"""
  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
  candidate: {{provider: openai, base_url: "{sim_url}", model: sim-stable,
               api_key_env: LLMGUARD_TEST_KEY}}
"""
    write_project(pytester, sim_url, targets=targets)
    result = pytester.runpytest("--llmguard", "golden_sets")
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(["*environment variable LLMGUARD_TEST_KEY is not set*"])
    assert "Traceback" not in result.stdout.str()
    # No request was sent, so no "call failed after 1 attempt(s)"; and no call counted.
    result.stdout.fnmatch_lines(["not called: client_error: environment variable*"])
    assert "attempt(s)" not in result.stdout.str()
    result.stdout.fnmatch_lines(["3 calls made; 3 not called (see the failed cases)"])


def test_bad_config_is_one_usage_error(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, extra="cache: {mdoe: record}\n")
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "llmguard.yaml" in err and "cache" in err and "mode" in err
    assert "Traceback" not in err + result.stdout.str()


def test_bad_golden_set_is_one_usage_error_with_line(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(
        pytester, sim_url, golden=SUPPORT.replace("id: reset-password", "id: refund-window")
    )
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "support.yaml:" in result.stderr.str() and "refund-window" in result.stderr.str()


@pytest.mark.parametrize("xdist", XDIST)
def test_streaming_measures_ttft_and_usage(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    targets = f"""
  streamed: {{provider: openai, base_url: "{sim_url}", model: sim-stable, stream: true,
              headers: {{x-team: qa}}}}
"""
    write_project(pytester, sim_url, targets=targets)
    result = pytester.runpytest("--llmguard", "golden_sets", *xdist)
    result.assert_outcomes(passed=3)
    report = json.loads((pytester.path / "report.json").read_text())
    for case in report["cases"]:
        assert case["ttft_ms"] is not None and 0 < case["ttft_ms"] <= case["latency_ms"]
        assert case["output_tokens"] > 0 and case["input_tokens"] > 0
        assert case["cost_usd"] > 0


def test_target_option_swaps_a_model(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate=sim-wordy",
        "--llmguard-target",
        "candidate",
    )
    result.assert_outcomes(passed=3)
    assert {r["model"] for r in sim_log.requests()} == {"sim-wordy"}


def test_terminal_summary_has_a_row_per_target(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "golden_sets")
    result.stdout.fnmatch_lines(
        [
            "*llmguard*",
            "llmguard verdict: *",
            "target*p95 ms*",
            "baseline (sim-stable)*",
            "candidate (sim-candidate)*",
        ]
    )


def test_llmguard_only_deselects_other_tests(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url)
    pytester.makepyfile(test_unit="def test_x():\n    assert True\n")
    result = pytester.runpytest("--llmguard", "--llmguard-only", ".", "golden_sets")
    result.assert_outcomes(passed=6, deselected=1)


def test_no_paths_collects_configured_golden_sets(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url)
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_unit.py").write_text("def test_x():\n    assert True\n")
    result = pytester.runpytest("--llmguard")
    result.assert_outcomes(passed=7)


GATED = """\
compare: {baseline: baseline, candidate: candidate}
gate: {min_cases: 3}
budgets:
  output_tokens_mean: {max_increase: "5%"}
  cost_per_response_usd: {max_increase: "10%"}
  error_rate: {max: 0.5}
"""


@pytest.mark.parametrize("xdist", XDIST)
def test_budget_verdicts_are_items_and_set_the_exit_code(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate=sim-wordy",
        "--junitxml=junit.xml",
        *xdist,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=7, failed=2)  # 6 cases + error_rate pass; 2 budgets fail
    result.stdout.fnmatch_lines(
        ["llmguard verdict: FAIL*", "*FAILED llmguard.yaml::budget?output_tokens_mean?*"]
    )
    xml = (pytester.path / "junit.xml").read_text()
    assert 'name="budget[cost_per_response_usd]"' in xml
    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    verdicts = {c["metric"]: c["verdict"] for c in report["comparisons"]}
    assert verdicts == {
        "output_tokens_mean": "fail",
        "cost_per_response_usd": "fail",
        "error_rate": "pass",
    }


def test_verdicts_equal_with_and_without_xdist(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, extra=GATED)
    runs = []
    for xdist in ([], ["-n", "2"]):
        pytester.runpytest(
            "--llmguard", "golden_sets", "--llmguard-target", "candidate=sim-wordy", *xdist
        )
        report = json.loads((pytester.path / "report.json").read_text())
        runs.append([(c["metric"], c["verdict"], c["interval"]) for c in report["comparisons"]])
    assert runs[0] == runs[1]


def test_passing_gate_keeps_exit_zero(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["llmguard verdict: PASS*"])


def test_saved_run_is_a_baseline(pytester: pytest.Pytester, sim_url: str, sim_log: SimLog) -> None:
    write_project(
        pytester,
        sim_url,
        extra=GATED.replace("compare: {baseline: baseline, candidate: candidate}\n", ""),
    )
    first = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate",
        "--llmguard-save",
        "main.json",
    )
    assert first.ret == pytest.ExitCode.OK
    assert (pytester.path / "main.json").exists()
    second = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate=sim-wordy",
        "--llmguard-target",
        "candidate",
        "--llmguard-baseline",
        "main.json",
    )
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    report = json.loads((pytester.path / "report.json").read_text())
    tokens = next(c for c in report["comparisons"] if c["metric"] == "output_tokens_mean")
    assert tokens["verdict"] == "fail" and tokens["n_paired"] == 3
    assert tokens["baseline"].endswith("main.json")


def test_cache_record_then_replay_sends_nothing(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url)
    pytester.runpytest("--llmguard", "golden_sets", "--llmguard-cache", "record").assert_outcomes(
        passed=6
    )
    assert len(sim_log.requests()) == 6
    sim_log.reset()
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-cache", "replay")
    result.assert_outcomes(passed=6)
    assert sim_log.requests() == []
    result.stdout.fnmatch_lines(["*6 of 6 responses came from the cache*"])
    report = json.loads((pytester.path / "report.json").read_text())
    assert all(c["cached"] and c["latency_ms"] > 0 for c in report["cases"])


def test_replay_miss_fails_that_case_clearly(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-cache", "replay")
    result.assert_outcomes(failed=6)
    result.stdout.fnmatch_lines(["*cache_miss*no cached response*--llmguard-cache=record*"])


def test_spend_limit_stops_new_calls(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra="")
    config = (
        (pytester.path / "llmguard.yaml")
        .read_text()
        .replace("run: {concurrency: 8,", "run: {max_cost_usd: 0.00005, concurrency: 1,")
    )
    (pytester.path / "llmguard.yaml").write_text(config)
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*budget_exhausted*max_cost_usd*", "note: spend limit reached*"])
    assert 0 < len(sim_log.requests()) < 6


def test_bad_quality_config_is_a_usage_error_before_any_call(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra="quality: {similarity: {scorer: cosine}}\n")
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*llmguard.yaml*quality.similarity.scorer*"])
    assert sim_log.requests() == []


def test_embedding_similarity_is_blended_in(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(
        pytester,
        sim_url,
        extra="quality: {similarity: {embeddings: {target: baseline, weight: 0.5}}}\n",
    )
    result = pytester.runpytest(
        "--llmguard", "golden_sets", "--llmguard-target", "candidate=sim-drifted"
    )
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
    report = json.loads((pytester.path / "report.json").read_text())
    for case in report["cases"]:
        cos = case["scores"]["similarity_embedding"]
        assert cos is not None and 0.0 <= cos <= 1.0
        if case["target"] == "baseline":  # exact reference answer: both parts are 1
            assert case["scores"]["similarity"] == pytest.approx(1.0)
    assert "embeddings unavailable" not in result.stdout.str()


def test_embedding_failure_falls_back_with_a_note(pytester: pytest.Pytester, sim_url: str) -> None:
    targets = f"""
  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
  embedder: {{provider: openai, base_url: "http://127.0.0.1:9/v1", model: none}}
"""
    write_project(
        pytester,
        sim_url,
        targets=targets,
        extra="quality: {similarity: {embeddings: {target: embedder}}}\n",
    )
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-target", "baseline")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["note: embeddings unavailable (*); similarity is fuzzy only"])


def test_unknown_embedding_target_is_a_usage_error(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(pytester, sim_url, extra="quality: {similarity: {embeddings: {target: nope}}}\n")
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*quality.similarity.embeddings.target*unknown target 'nope'*"])


@pytest.mark.parametrize("xdist", XDIST)
def test_adaptive_rounds_repeat_borderline_cases_once_each(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, xdist: list[str]
) -> None:
    # Whether real data is borderline depends on noise; gate.borderline() itself is unit
    # tested in test_gate.py. Here every budget is declared borderline (in every xdist
    # worker, through the project's conftest) to test the rounds deterministically.
    pytester.makeconftest(ALWAYS_BORDERLINE)
    extra = (
        "compare: {baseline: baseline, candidate: candidate}\n"
        "gate: {min_cases: 3, adaptive: true, adaptive_rounds: 2}\n"
        'budgets: {latency_mean_ms: {max_increase: "50%"}}\n'
    )
    write_project(pytester, sim_url, extra=extra)
    result = pytester.runpytest("--llmguard", "golden_sets", *xdist)
    result.stdout.fnmatch_lines(
        [
            "note: gate.adaptive: round 1 repeated*latency_mean_ms*",
            "note: gate.adaptive: round 2 repeated*latency_mean_ms*",
        ]
    )
    # every (model, prompt) was called once per round, the first included: 3 times
    calls = Counter((r["model"], r["prompt_sha"]) for r in sim_log.requests())
    assert len(calls) == 6 and set(calls.values()) == {3}
    report = json.loads((pytester.path / "report.json").read_text())
    assert {c["repeat_index"] for c in report["cases"]} == {0, 1, 2}
    assert len(report["cases"]) == 18
    assert {c["n_paired"] for c in report["comparisons"]} == {3}


def test_collect_only_calls_nothing_and_judges_nothing(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest("--llmguard", "golden_sets", "--co", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert "llmguard verdict" not in result.stdout.str()
    assert "golden_sets/support.yaml::refund-window[candidate]" in result.stdout.str()
    assert sim_log.requests() == []
    assert not (pytester.path / "report.json").exists()


@pytest.mark.parametrize("xdist", XDIST)
def test_llm_judge_scores_outputs_and_reports_its_cost_apart(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    targets = f"""
  baseline: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
  candidate: {{provider: openai, base_url: "{sim_url}", model: sim-drifted}}
  judge: {{provider: openai, base_url: "{sim_url}", model: sim-stable}}
"""
    extra = "quality: {judge: {target: judge, rubric: 'Is the answer correct and complete?'}}\n"
    write_project(pytester, sim_url, targets=targets, extra=extra)
    result = pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "baseline",
        "--llmguard-target",
        "candidate",
        *xdist,
    )
    result.stdout.fnmatch_lines(["judge judge (sim-stable): 6 calls, 0 errors, mean score *"])
    report = json.loads((pytester.path / "report.json").read_text())
    judge = report["judge"]
    assert judge["calls"] == 6 and judge["scored"] == 6 and judge["cost_usd"] > 0
    by_target: dict[str, list[float]] = {}
    for case in report["cases"]:
        by_target.setdefault(case["target"], []).append(case["scores"]["judge"])
    assert min(by_target["baseline"]) == 1.0  # the reference answer itself
    assert sum(by_target["candidate"]) < sum(by_target["baseline"])
    # the judge's cost is not in the targets' cost
    targets_cost = sum(t["metrics"]["cost_total_usd"] for t in report["targets"].values())
    assert targets_cost == pytest.approx(sum(c["cost_usd"] for c in report["cases"]))
    assert set(report["targets"]) == {"baseline", "candidate"}
