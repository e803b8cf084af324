"""API keys never reach an artefact: cache, reports, saved runs, JUnit XML or the terminal.

A run authenticates with distinctive fake keys; some of its calls fail with 401, and some
hit a provider that echoes the key back in its error message (the simulator echoes a bad
``x-sim-status`` header value, which stands in for a provider quoting a key). Then every
file written under the project, and everything printed, is searched for the keys.
"""

from __future__ import annotations

import pytest

KEY = "sk-llmguardFAKE0123456789abcdefSECRET"  # key-shaped
PLAIN = "llmguard.plain.token.4711.NOT-KEY-SHAPED"  # only exact-match scrubbing finds it
GOLDEN = """\
name: secrets
cases:
  - {id: refund, prompt: "How long do I have to ask for a refund?", expected: "30 days"}
  - {id: shipping, prompt: "How long does shipping take to Canada?"}
"""


def test_no_artefact_or_output_contains_a_key(
    pytester: pytest.Pytester, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGUARD_FAKE_KEY", KEY)
    monkeypatch.setenv("LLMGUARD_PLAIN_KEY", PLAIN)
    base = f'provider: openai, base_url: "{sim_url}", model: sim-stable'
    # The failing targets ask for another model: their requests must not share a cache
    # key with the healthy ones (headers are not part of it), or a failing target could
    # replay a healthy target's answer recorded a moment earlier in the same run.
    faulty = base.replace("sim-stable", "sim-candidate")
    (pytester.path / "llmguard.yaml").write_text(
        "golden_sets: [golden_sets/]\n"
        "targets:\n"
        f"  ok: {{{base}, api_key_env: LLMGUARD_FAKE_KEY}}\n"
        f"  ok_plain: {{{base}, api_key_env: LLMGUARD_PLAIN_KEY, auth_header: api-key}}\n"
        f"  unauthorized: {{{faulty}, api_key_env: LLMGUARD_FAKE_KEY,\n"
        "    headers: {x-sim-fault: client_error, x-sim-status: '401'}}\n"
        f"  echo: {{{faulty}, api_key_env: LLMGUARD_FAKE_KEY,\n"
        f"    headers: {{x-sim-fault: client_error, x-sim-status: '{KEY}'}}}}\n"
        f"  echo_plain: {{{faulty}, api_key_env: LLMGUARD_PLAIN_KEY,\n"
        f"    headers: {{x-sim-fault: client_error, x-sim-status: '{PLAIN}'}}}}\n"
        "run: {concurrency: 8, timeout_s: 5, retries: {max: 1, backoff_base_s: 0.01}}\n"
        "cache: {dir: .llmguard/cache, mode: record}\n"
        "budgets: {error_rate: {max: 0.5}}\n"
        "gate: {min_cases: 1}\n"
        "report: {json: report.json}\n",
        encoding="utf-8",
    )
    (pytester.path / "golden_sets").mkdir()
    (pytester.path / "golden_sets" / "secrets.yaml").write_text(GOLDEN, encoding="utf-8")

    result = pytester.runpytest(
        "--llmguard",
        "-rA",
        "--llmguard-save",
        "saved.json",
        "--llmguard-report-md",
        "report.md",
        "--junitxml",
        "junit.xml",
    )

    result.assert_outcomes(passed=4, failed=7)  # 6 faulty items + the error_rate budget
    output = result.stdout.str() + result.stderr.str()
    # The echoing provider's message did reach the run, scrubbed.
    assert "x-sim-status must be one of" in output and "[REDACTED]" in output
    written = [
        p
        for p in pytester.path.rglob("*")
        # llmguard.yaml is the input (the echo targets quote the keys in their headers)
        if p.is_file() and p.name != "llmguard.yaml"
    ]
    names = {p.name for p in written}
    assert {"report.json", "saved.json", "report.md", "junit.xml"} <= names
    assert any(".llmguard" in p.parts for p in written), "the cache recorded the passing calls"
    for secret in (KEY, PLAIN):
        assert secret not in output
        leaks = [str(p) for p in written if secret.encode() in p.read_bytes()]
        assert leaks == [], f"{secret} found in {leaks}"
        assert secret[8:24] not in output, "not even a fragment of it"


def test_config_holding_a_key_is_refused(pytester: pytest.Pytester, sim_url: str) -> None:
    """Keys come only from the environment: a key written into the config is an error."""
    (pytester.path / "llmguard.yaml").write_text(
        "targets:\n"
        f'  t: {{provider: openai, base_url: "{sim_url}", model: m, api_key_env: "{KEY}"}}\n',
        encoding="utf-8",
    )
    result = pytester.runpytest("--llmguard")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "api_key_env" in output
    assert KEY not in output, "the error must not repeat the key it refuses"
