"""The PR comment, rendered as GitHub renders it (cmark-gfm, GitHub's own Markdown parser)."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

from pytest_llmguard.metrics.textdiff import DiffSpan
from pytest_llmguard.outcome import BaselineInfo, CaseRegression, Outcome
from pytest_llmguard.report.markdown import (
    COMMENT_LIMIT,
    COMMENT_MARKER,
    Limit,
    diff_cell,
    render_markdown,
)
from tests.report.outcomes import failing_outcome


class Tags(HTMLParser):
    """Every element of a rendered page, with the text inside each table cell."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def github_html(markdown: str) -> Tags:
    # UNSAFE keeps raw HTML as GitHub's parser does; GitHub's sanitizer then drops all but
    # a list of tags (del, ins, details, summary, sub are on it): the tests check the tags.
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    parsed = Tags()
    parsed.feed(html)
    return parsed


def test_a_failing_comment_reads_as_github_shows_it() -> None:
    outcome = failing_outcome()
    md = render_markdown(outcome, limit=COMMENT_LIMIT, report_url="https://ci.example/r/1.html")
    assert md.startswith(COMMENT_MARKER + "\n## ❌ llmguard: FAIL · budgets: 2 failed, 1 passed")
    # what was compared, each side with its model and origin
    assert "- **Candidate:** candidate (m-candidate), this run (commit 0123456 on feature)" in md
    assert "- **Baseline:** baseline (m-baseline), same run" in md
    page = github_html(md)
    tables = [r for r in page.rows if r and r[0] in ("verdict", "case")]
    assert [t[0] for t in tables] == ["verdict", "case", "case"]  # budgets, regressed, failed
    budget_rows = page.rows[1:4]
    assert [r[0] for r in budget_rows] == ["❌ FAIL", "❌ FAIL", "✅ PASS"]
    assert all(len(r) == 6 for r in budget_rows)
    # the word diff is struck through and inserted, never [-...-]{+...+}
    assert "del" in page.tags and "ins" in page.tags
    assert "[-" not in md and "{+" not in md
    regressed = [r for r in page.rows if len(r) == 3 and r[0].startswith("golden_sets/")]
    assert len(regressed) == 5
    assert "30" in regressed[0][2] and "60" in regressed[0][2]
    # details folded, footer with the run's facts and the report link
    assert page.tags.count("details") == 2 and "sub" in page.tags
    assert ("href", "https://ci.example/r/1.html") in page.attrs
    footer = md.rsplit("---", 1)[1]
    assert "30 cases × 1 repeat on 2 targets" in footer
    assert "60 calls (0 from the cache, 0 failed)" in footer
    assert "12.3 s" in footer and "spent $0.06" in footer and "pytest-llmguard 0.1.0" in footer


def test_cached_calls_cost_nothing_and_failed_calls_are_counted() -> None:
    md = render_markdown(failing_outcome(cached=10, errors=3))
    footer = md.rsplit("---", 1)[1]
    assert "60 calls (10 from the cache, 3 failed)" in footer
    assert "spent $0.05000" in footer  # 50 fresh calls at $0.001 (errors are paid too)


def test_hostile_output_in_a_diff_stays_text() -> None:
    hostile = (
        "</del><script>alert(1)</script> <img src=x onerror=alert(1)> @octocat | `x` "
        "[a](javascript:1)"
    )
    regression = CaseRegression(
        "s.yaml::c",
        "now fails",
        "old text",
        hostile,
        0.1,
        "",
        (DiffSpan("del", "old text"), DiffSpan("ins", hostile)),
    )
    cell = diff_cell(regression)
    page = github_html("| diff |\n|---|\n| " + cell + " |\n")
    assert set(page.tags) == {"table", "thead", "tr", "th", "tbody", "td", "del", "ins"}
    assert not [a for a in page.attrs if a[0] in ("href", "src", "onerror")]
    assert "@octocat" not in cell and "|" not in cell.replace("&#124;", "")
    assert "<script>" in "".join(page.rows[1])  # shown as text


def test_a_diff_of_a_run_saved_before_spans_is_escaped_text() -> None:
    regression = CaseRegression("k", "r", "a", "b", 0.5, "[-a-]{+<b>b</b>+}")
    assert diff_cell(regression) == "\\[-a-\\]{+&lt;b&gt;b&lt;/b&gt;+}"


def test_pii_in_a_diff_is_redacted() -> None:
    regression = CaseRegression(
        "k", "r", "a", "b", 0.5, "", (DiffSpan("ins", "mail jane.doe@example.com now"),)
    )
    assert "jane.doe" not in diff_cell(regression)
    assert "REDACTED" in diff_cell(regression)


def test_report_url_must_be_a_plain_http_url() -> None:
    outcome = failing_outcome(n=6)
    for bad in ("javascript:alert(1)", "https://x.example/a) [pwn](https://evil", "ftp://x"):
        assert "full HTML report" not in render_markdown(outcome, report_url=bad)


def _huge(outcome: Outcome) -> Outcome:
    """Hundreds of budget rows (by tag, per target) and notes: more than a comment holds."""
    notes = tuple(f"note {i}: " + "ü" * 300 for i in range(300))
    return replace(outcome, comparisons=outcome.comparisons * 200, notes=notes)


def test_a_huge_report_is_shortened_to_fit_and_says_so() -> None:
    outcome = _huge(failing_outcome(n=40, candidate_output="word " * 3000))
    full = render_markdown(outcome)
    assert len(full) > COMMENT_LIMIT.size
    short = render_markdown(outcome, limit=COMMENT_LIMIT)
    assert len(short) <= COMMENT_LIMIT.size
    assert "Shortened to fit GitHub's 65,536-character limit for a comment" in short
    assert short.count("<details>") == short.count("</details>")
    assert "verdict" in short and "## ❌ llmguard: FAIL" in short  # the essentials stay
    # the least important go first: failed cases before per-target metrics
    tiny = Limit(2_500, "a tiny limit")
    text = render_markdown(outcome, limit=tiny)
    assert len(text) <= 2_500
    assert "left out the failed cases, per-target metrics, the notes" in text
    assert "more budgets (see the JSON report)" in text
    assert text.startswith(COMMENT_MARKER)


def test_a_limit_in_bytes_counts_utf8() -> None:
    outcome = _huge(failing_outcome(n=50, candidate_output="ü" * 4000))
    limit = Limit(20_000, "twenty kB", in_bytes=True)
    text = render_markdown(outcome, limit=limit)
    assert len(text.encode()) <= 20_000 < len(render_markdown(outcome).encode())


def test_even_the_budget_table_is_cut_when_nothing_else_is_left() -> None:
    text = render_markdown(failing_outcome(n=6), limit=Limit(400, "a very small limit"))
    assert len(text) <= 400
    assert text.startswith(COMMENT_MARKER) and "cut to fit a very small limit" in text


def test_a_saved_baseline_says_which_run_commit_and_date() -> None:
    saved = BaselineInfo(
        "saved",
        "run 00012 (abcdef1)",
        "candidate",
        "m-old",
        "abcdef1234",
        "2026-12-03T16:50:38+00:00",
    )
    md = render_markdown(replace(failing_outcome(n=6), baseline=saved))
    assert (
        "- **Baseline:** candidate (m-old), saved run 00012 (abcdef1), 2026-12-03 16:50 UTC" in md
    )
    other = replace(saved, label=".llmguard/base-run.json")
    md = render_markdown(replace(failing_outcome(n=6), baseline=other))
    assert "saved run .llmguard/base-run.json, commit abcdef1, 2026-12-03 16:50 UTC" in md
