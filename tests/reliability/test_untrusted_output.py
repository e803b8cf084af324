"""Model output is untrusted: no terminal escapes reach the terminal, and the Markdown
report (the PR comment) neutralises HTML, code fences, table pipes, mentions and links."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from pytest_llmguard.sim.server import SimServer

PROMPT = "Please say something nasty."
HOSTILE = (
    "Hi \x1b[31mRED\x1b[0m and \x1b]0;pwned-title\x07 and \x9b31mC1\r overwritten\n"
    "<script>alert(1)</script> <img src=x onerror=alert(1)>\n"
    "```\n</details>\n| a | b |\n|---|---|\n"
    "cc @octocat and #1234 [click](javascript:alert(1)) ![x](https://evil.example/t.png)"
)
GOLDEN = f"""\
name: hostile
cases:
  - id: fails
    prompt: "{PROMPT}"
    checks: [{{contains: "a phrase the model never says"}}]
"""


@pytest.fixture(scope="module")
def hostile_url() -> Iterator[str]:
    server = SimServer(seed=1, latency_scale=0.01, answers={PROMPT: HOSTILE})
    yield server.start_in_thread()
    server.stop_thread()


def test_hostile_output_is_neutralised(pytester: pytest.Pytester, hostile_url: str) -> None:
    (pytester.path / "llmguard.yaml").write_text(
        "golden_sets: [golden_sets/]\n"
        f'targets:\n  t: {{provider: openai, base_url: "{hostile_url}", model: sim-stable}}\n'
        "report: {json: report.json}\n",
        encoding="utf-8",
    )
    (pytester.path / "golden_sets").mkdir()
    (pytester.path / "golden_sets" / "hostile.yaml").write_text(GOLDEN, encoding="utf-8")

    result = pytester.runpytest("--llmguard", "-rA", "--llmguard-report-md", "report.md")

    result.assert_outcomes(failed=1)
    terminal = result.stdout.str() + result.stderr.str()
    assert "pwned-title" in terminal, "the output is shown (neutralised, not dropped)"
    for raw in ("\x1b", "\x07", "\x9b", "\r"):
        assert raw not in terminal, f"{raw!r} reached the terminal"

    md = (pytester.path / "report.md").read_text(encoding="utf-8")
    assert "pwned-title" in md
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in md
    for active in ("<script", "<img", "```", "@octocat"):
        assert active not in md, f"{active!r} is live in the Markdown"
    links = re.findall(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(", md)
    assert links == [], "a link or image made of unescaped brackets"
    assert md.count("<details>") == md.count("</details>")
    table = [line for line in md.splitlines() if line.startswith("| case ")]
    assert table, md
    header = table[0]
    rows = [line for line in md.splitlines() if "hostile.yaml::fails" in line]
    assert rows
    for row in rows:
        # Only the table's own separators are pipes; the output's are escaped.
        assert len(re.findall(r"(?<!\\)\|", row)) == header.count("|"), row


def test_escaped_characters_still_read_as_themselves() -> None:
    from pytest_llmguard.report.markdown import escape_cell

    cell = escape_cell("a | b `c` issue #12")
    assert "&#\u200b" not in cell
    assert "&#124;" in cell and "&#96;" in cell and "#\u200b12" in cell
