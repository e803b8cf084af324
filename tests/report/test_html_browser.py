"""The HTML report in a real headless Chromium: drawn without console errors, charts with
content, sorting, filtering and paging that work, and hostile model output that stays text.

Skipped with the reason when Chromium or Selenium is missing on a developer's machine; in
CI (``CI`` set, where ``.ci/run`` installs them) a missing browser is a failure instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.report.html import render_html
from tests.browser import chromium, missing_reason
from tests.report.html_outcomes import HOSTILE, synthetic_outcome
from tests.report.test_html import page_data

_MISSING = missing_reason()
if _MISSING is not None and os.environ.get("CI"):
    raise RuntimeError(f"the HTML report's browser tests must run in CI: {_MISSING}")
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(1280, 900) as driver:
        yield driver


def open_report(browser: Any, path: Path) -> None:
    browser.get_log("browser")  # forget what an earlier page logged
    browser.get(path.as_uri())
    wait_for(browser, "return document.documentElement.hasAttribute('data-render-ms')")
    # the long texts (outputs) are read right after the first render
    wait_for(browser, "return document.documentElement.hasAttribute('data-texts-ms')")


def wait_for(browser: Any, script: str, timeout: float = 20.0) -> Any:
    """Poll a script until it returns something truthy (the page renders asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {script}")
        time.sleep(0.05)


def console_problems(browser: Any) -> list[dict[str, Any]]:
    """Console errors and warnings, CSP violations included (Chromium logs them as errors)."""
    return [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def updated(browser: Any, before: int) -> None:
    wait_for(
        browser,
        f"return Number(document.documentElement.getAttribute('data-updates') || 0) > {before}",
    )


def update_count(browser: Any) -> int:
    return int(
        browser.execute_script(
            "return Number(document.documentElement.getAttribute('data-updates') || 0)"
        )
    )


def column_values(browser: Any, label: str) -> list[str]:
    return list(
        browser.execute_script(
            """
            const heads = [...document.querySelectorAll('#cases thead th')];
            const col = heads.findIndex((th) => th.firstChild.textContent === arguments[0]);
            return [...document.querySelectorAll('#cases tbody tr.case')]
              .map((tr) => tr.children[col].textContent);
            """,
            label,
        )
    )


def click_header(browser: Any, label: str) -> None:
    before = update_count(browser)
    browser.execute_script(
        """
        [...document.querySelectorAll('#cases thead th')]
          .find((th) => th.firstChild.textContent === arguments[0]).click();
        """,
        label,
    )
    updated(browser, before)


def set_control(browser: Any, selector: str, value: str, event: str) -> None:
    before = update_count(browser)
    browser.execute_script(
        "const c = document.querySelector(arguments[0]); c.value = arguments[1];"
        "c.dispatchEvent(new Event(arguments[2]));",
        selector,
        value,
        event,
    )
    updated(browser, before)


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(synthetic_outcome(240, repeat=2)), encoding="utf-8")
    return path


def test_the_report_renders_with_charts_and_no_console_errors(
    browser: Any, report_page: Path, tmp_path: Path
) -> None:
    open_report(browser, report_page)
    assert console_problems(browser) == []
    render, texts = browser.execute_script(
        "const root = document.documentElement;"
        "return [root.getAttribute('data-render-ms'), root.getAttribute('data-texts-ms')];"
    )
    assert float(texts) >= float(render)  # outputs are read after the first render
    badge = browser.execute_script("return document.querySelector('.badge').textContent")
    assert badge in ("PASS", "WARN", "FAIL", "SKIP") and browser.title == f"llmguard {badge}"
    charts = browser.execute_script(
        """
        return [...document.querySelectorAll('figure')].map((f) => ({
          title: f.querySelector('h3').textContent,
          paths: [...f.querySelectorAll('svg path')].map((p) => p.getAttribute('d').length),
          rects: f.querySelectorAll('svg rect').length,
          box: f.querySelector('svg') ? f.querySelector('svg').getBoundingClientRect().height : 0,
        }));
        """
    )
    by_title = {c["title"]: c for c in charts}
    assert set(by_title) == {
        "Latency distribution",
        "Similarity to the reference",
        "Per case: baseline vs candidate",
        "Cost and tokens",
        "Output tokens",
        "Errors by class",
    }
    for title in ("Latency distribution", "Similarity to the reference", "Output tokens"):
        assert len(by_title[title]["paths"]) == 2 and min(by_title[title]["paths"]) > 100, title
    assert max(by_title["Per case: baseline vs candidate"]["paths"]) > 1000  # many points
    assert by_title["Cost and tokens"]["rects"] == 8  # 4 metrics x 2 sides
    assert by_title["Errors by class"]["rects"] >= 1  # the candidate's server errors
    assert all(c["box"] > 50 for c in charts)  # drawn at a visible size
    # the budget table and the worst regressed cases with their word diffs
    assert (
        browser.execute_script("return document.querySelectorAll('#budgets tbody tr').length") == 5
    )
    assert browser.execute_script("return document.querySelectorAll('.regression ins').length") > 0
    # nothing was fetched: the page needs no network
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    shot = tmp_path / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sorting_filtering_and_paging_work(browser: Any, report_page: Path) -> None:
    open_report(browser, report_page)
    rows = column_values(browser, "case")
    assert len(rows) == 50  # one page
    statuses = column_values(browser, "status")
    rank = {"regressed": 0, "failing": 1, "missing": 2, "new": 3, "fixed": 4, "pass": 5}
    assert [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)  # worst first
    click_header(browser, "ms cand")
    first = [float(v.replace(",", "")) for v in column_values(browser, "ms cand") if v]
    assert first == sorted(first)
    click_header(browser, "ms cand")
    again = [float(v.replace(",", "")) for v in column_values(browser, "ms cand") if v]
    assert again == sorted(again, reverse=True) and again[0] >= first[-1]
    set_control(browser, "#cases-section input[type=search]", "case-00012", "input")
    assert [r.split("golden")[0] for r in column_values(browser, "case")] == ["case-00012"]
    set_control(browser, "#cases-section input[type=search]", "", "input")
    set_control(browser, "#cases-section select[aria-label=status]", "regressed", "change")
    regressed = column_values(browser, "status")
    assert regressed and set(regressed) == {"regressed"}
    set_control(browser, "#cases-section select[aria-label=status]", "all", "change")
    set_control(browser, "#cases-section select[aria-label='golden set']", "1", "change")
    chosen = browser.execute_script(
        "return document.querySelector(\"#cases-section select[aria-label='golden set']\")"
        ".selectedOptions[0].textContent"
    )
    assert chosen.startswith("golden_sets/")
    assert {r.split("golden_sets/")[1].split(" ")[0] for r in column_values(browser, "case")} == {
        chosen.split("/")[1]
    }
    set_control(browser, "#cases-section select[aria-label='golden set']", "-1", "change")
    page_one = column_values(browser, "case")
    before = update_count(browser)
    browser.execute_script("[...document.querySelectorAll('.pager button')][1].click()")
    updated(browser, before)
    page_two = column_values(browser, "case")
    assert len(page_two) == 50 and not set(page_one) & set(page_two)
    assert "page 2 of 5" in browser.execute_script(
        "return document.querySelector('.pager').textContent"
    )
    # a row opens to both outputs side by side, the reference and the word diff
    browser.execute_script("document.querySelector('#cases tbody tr.case').click()")
    detail = wait_for(browser, "return document.querySelector('#cases tr.detail')")
    assert detail.find_elements("css selector", "pre.out")
    assert "word diff (baseline → candidate)" in detail.text
    assert "reference (expected)" in detail.text
    assert console_problems(browser) == []


def test_word_diffs_rebuild_both_outputs(browser: Any, report_page: Path) -> None:
    open_report(browser, report_page)
    data = page_data(report_page.read_text(encoding="utf-8"))
    sides = browser.execute_script(
        """
        return [...document.querySelectorAll('.regression .diff')].map((diff) => {
          const before = [], after = [];
          for (const node of diff.childNodes) {
            const words = node.textContent.split(/\\s+/).filter(Boolean);
            if (node.nodeName !== 'INS') before.push(...words);
            if (node.nodeName !== 'DEL') after.push(...words);
          }
          return [before.join(' '), after.join(' '), diff.querySelectorAll('del, ins').length];
        });
        """
    )
    assert len(sides) == len(data["regressions"]) > 0
    for (before, after, changes), r in zip(sides, data["regressions"], strict=True):
        assert before == " ".join(r["before"].split())
        assert after == " ".join(r["after"].split())
        assert changes > 0


def test_clicking_a_point_of_the_scatter_opens_its_case(browser: Any, report_page: Path) -> None:
    open_report(browser, report_page)
    before = update_count(browser)
    browser.execute_script(
        """
        const svg = [...document.querySelectorAll('figure')]
          .find((f) => f.querySelector('h3').textContent.startsWith('Per case'))
          .querySelector('svg');
        const path = [...svg.querySelectorAll('path.points')]
          .find((p) => p.getAttribute('d').length > 10);
        const [x, y] = path.getAttribute('d').slice(1).split('h')[0].split(' ').map(Number);
        const at = new DOMPoint(x + 2, y + 2).matrixTransform(svg.getScreenCTM());
        svg.dispatchEvent(new MouseEvent('click', {clientX: at.x, clientY: at.y, bubbles: true}));
        """
    )
    updated(browser, before)
    assert len(column_values(browser, "case")) == 1
    assert (
        browser.execute_script("return document.querySelectorAll('#cases tr.detail').length") == 1
    )
    assert "showing one case" in browser.execute_script(
        "return document.querySelector('.controls button.link').textContent"
    )


def test_hostile_outputs_stay_text(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render_html(synthetic_outcome(30, hostile=HOSTILE)), encoding="utf-8")
    open_report(browser, page)
    # open every case whose output or id carries hostile text, so every view is drawn
    set_control(browser, "#cases-section select[aria-label='rows per page']", "500", "change")
    wait_for(browser, "return document.querySelectorAll('#cases tbody tr.case').length === 30")
    browser.execute_script(
        "for (const tr of [...document.querySelectorAll('#cases tbody tr.case')])"
        " if (tr.textContent.includes('<')) tr.click();"
    )
    opened = browser.execute_script("return document.querySelectorAll('#cases tr.detail').length")
    assert opened >= 5
    assert browser.execute_script("return window.__pwned === undefined")
    found = browser.execute_script(
        """
        return {
          scripts: document.querySelectorAll('script').length,
          injected: document.querySelectorAll(
            'img, a, iframe, object, embed, #app svg style, [onerror], [onload]').length,
          // lone surrogates (shown as U+FFFD) cannot cross the WebDriver's JSON
          text: document.body.textContent.toWellFormed(),
        };
        """
    )
    assert found["scripts"] == 3 and found["injected"] == 0
    assert "</script><script>window.__pwned = 'script'</script>" in found["text"]
    assert "<img src=x onerror=\"window.__pwned = 'img'\">" in found["text"]
    assert "javascript:window.__pwned='link'" in found["text"]
    assert "abc⟦U+202E⟧dcba" in found["text"] and "\u202e" not in found["text"]
    assert "lone \ufffd surrogate" in found["text"]
    assert console_problems(browser) == []


def test_a_large_compressed_report_renders_and_sorts(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "large.html"
    page.write_text(render_html(synthetic_outcome(3000), compress_above=0), encoding="utf-8")
    open_report(browser, page)
    assert console_problems(browser) == []
    assert "3,000 of 3,000 cases" in browser.execute_script(
        "return document.querySelector('#cases-section .controls').textContent"
    )
    click_header(browser, "Δ sim")
    deltas = [float(v.replace("±", "")) for v in column_values(browser, "Δ sim") if v]
    assert deltas == sorted(deltas) and deltas[0] < 0
    set_control(browser, "#cases-section input[type=search]", "case-0001", "input")
    assert "10 of 3,000 cases" in browser.execute_script(
        "return document.querySelector('#cases-section .controls').textContent"
    )


def test_a_single_target_and_an_empty_run_render_too(browser: Any, tmp_path: Path) -> None:
    full = synthetic_outcome(30)
    single = replace(
        full,
        baseline=None,
        candidate=None,
        comparisons=(),
        regressions=(),
        summaries={"candidate": full.summaries["candidate"]},
        scored=tuple(s for s in full.scored if s.observation.target == "candidate"),
        baseline_summary=None,
        baseline_scored=(),
    )
    empty = replace(single, summaries={}, scored=(), cases={}, verdict="pass")
    for name, outcome, cases in (("single", single, 30), ("empty", empty, 0)):
        page = tmp_path / f"{name}.html"
        page.write_text(render_html(outcome), encoding="utf-8")
        open_report(browser, page)
        assert console_problems(browser) == [], name
        titles = browser.execute_script(
            "return [...document.querySelectorAll('figure h3')].map((h) => h.textContent)"
        )
        assert "Per case: baseline vs candidate" not in titles  # nothing to pair
        assert f"{cases} of {cases} cases" in browser.execute_script(
            "return document.querySelector('#cases-section .controls').textContent"
        )
    statuses = browser.execute_script(
        "return [...document.querySelectorAll('#cases-section select[aria-label=status] option')]"
        ".map((o) => o.value)"
    )
    assert statuses == ["all", "fail", "errors"]
    assert "no case matches" in browser.execute_script(
        "return document.querySelector('#cases tbody').textContent"
    )


def test_failed_case_items_are_said_under_the_verdict(browser: Any, tmp_path: Path) -> None:
    outcome = replace(synthetic_outcome(10), verdict="fail", failed_items=3)
    page = tmp_path / "failed.html"
    page.write_text(render_html(outcome), encoding="utf-8")
    open_report(browser, page)
    assert console_problems(browser) == []
    shown = browser.execute_script(
        "return [document.querySelector('h1 .badge').textContent,"
        " [...document.querySelectorAll('.banner')].map((b) => b.textContent)]"
    )
    assert shown[0] == "FAIL"
    assert shown[1] == [
        "Failed cases: 3 case items failed (checks or calls; see the test failures): the run fails"
    ]
