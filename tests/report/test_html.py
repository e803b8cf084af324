"""The HTML report's file: self-contained, its data read from the Outcome, untrusted text inert.

What the page does with the data in a browser is in ``test_html_browser.py``.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.outcome import Outcome
from pytest_llmguard.report import html
from pytest_llmguard.report.escape import reveal_controls
from pytest_llmguard.report.html import SCRIPTS, csp_hash, embed, page_parts, render_html
from pytest_llmguard.report.html_data import MAX_OUTPUT_CHARS, build_data, script_json, sides_of
from pytest_llmguard.report.rows import budget_rows
from tests.report.html_outcomes import HOSTILE, synthetic_outcome, without_baseline_side

DATA_BLOCKS = re.compile(
    r'<script id="(llmguard-data|llmguard-texts)" ([^>]*)>(.*?)</script>', re.S
)


@pytest.fixture(scope="module")
def outcome() -> Outcome:
    return synthetic_outcome(60)


@pytest.fixture(scope="module")
def hostile() -> Outcome:
    return synthetic_outcome(30, hostile=HOSTILE)


def page_data(page: str) -> Any:
    """The data of a rendered page, decoded as its script decodes it (``texts`` included)."""
    blocks = {}
    for name, attrs, body in DATA_BLOCKS.findall(page):
        if 'data-encoding="gzip+base64"' in attrs:
            body = gzip.decompress(base64.b64decode(body)).decode("utf-8")
        blocks[name] = json.loads(body)
    assert set(blocks) == {"llmguard-data", "llmguard-texts"}
    return {**blocks["llmguard-data"], "texts": blocks["llmguard-texts"]}


def markup(page: str) -> str:
    """The page without its data blocks and script: the markup a browser parses as HTML."""
    _, style, script = page_parts()
    return DATA_BLOCKS.sub("", page).replace(script, "").replace(style, "")


def test_page_is_self_contained_and_allows_only_its_own_script_and_style(
    outcome: Outcome,
) -> None:
    page = render_html(outcome)
    _, style, script = page_parts()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    rules = dict(r.strip().split(" ", 1) for r in policy.group(1).split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["script-src"] == csp_hash(script)
    assert rules["style-src"] == csp_hash(style)
    assert rules["require-trusted-types-for"] == "'script'"
    assert f"<script>{script}</script>" in page and f"<style>{style}</style>" in page
    html = markup(page)
    # nothing is loaded from anywhere: no src/href attributes, no external references
    assert not re.search(r"\b(src|href|srcset|action)\s*=", html, re.I)
    assert "://" not in html
    assert not re.search(r"\b(fetch|XMLHttpRequest|WebSocket|EventSource|import\()", script)
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "eval(" not in script and "new Function" not in script


def test_every_script_asset_is_part_of_the_page() -> None:
    # a script file left out of SCRIPTS would only show as a ReferenceError in a browser
    assets = Path(html.__file__).parent / "html_assets"
    assert sorted(SCRIPTS) == sorted(p.name for p in assets.glob("*.js"))
    _, _, script = page_parts()
    for name in SCRIPTS:
        assert (assets / name).read_text(encoding="utf-8") in script


def test_data_is_read_from_the_outcome_not_recomputed(outcome: Outcome) -> None:
    data = page_data(render_html(outcome))
    assert data["verdict"] == outcome.verdict
    assert data["budgets"]["rows"] == budget_rows(outcome.comparisons)
    roles = [s["role"] for s in data["sides"]]
    assert roles == ["baseline", "candidate"]
    for side, name in zip(data["sides"], ("baseline", "candidate"), strict=True):
        summary = outcome.summaries[name]
        assert side["metrics"]["latency_p95_ms"] == summary.metrics["latency_p95_ms"]
        assert side["errors"] == {k: v for k, v in summary.errors_by_class.items() if v}
        assert len(side["lat_all"]) == len(summary.samples["latency_ms"].flat)  # type: ignore[attr-defined]
    cases = data["cases"]
    assert len(cases["id"]) == 60
    keys = [cases["sets"][s] + "::" + i for s, i in zip(cases["set"], cases["id"], strict=True)]
    assert keys == sorted(outcome.cases)
    texts = data["texts"]
    first = next(s for s in outcome.scored if s.observation.case_key == keys[0])
    side = cases["sides"][roles.index(first.observation.target)]
    assert texts[side["text"][0]] == first.observation.output
    assert side["lat"][0] == round(first.observation.latency_ms or 0, 1)
    assert texts[cases["expected"][0]] == outcome.cases[keys[0]].expected
    assert data["strings"][cases["tags"][0]] == " ".join(outcome.cases[keys[0]].tags)
    assert [r["key"] for r in data["regressions"]] == [r.case_key for r in outcome.regressions]


def test_the_shown_repeat_is_the_first_failing_one() -> None:
    outcome = synthetic_outcome(40, repeat=3, seed=5)
    data = page_data(render_html(outcome))
    cand = data["cases"]["sides"][1]
    assert set(cand["n"]) == {3}
    mixed = [i for i, p in enumerate(cand["pass"]) if 0 < p < 3]
    failing = [i for i, p in enumerate(cand["pass"]) if p < 3]
    assert failing  # the synthetic candidate fails some repeats
    for i in failing:
        assert cand["why"][i] != 0  # a failing repeat is shown, with why it failed
    for i in mixed:
        assert cand["rep"][i] is not None


def test_a_saved_baseline_is_charted_from_the_outcome_and_said() -> None:
    outcome = synthetic_outcome(40, saved_baseline=True)
    sides = sides_of(outcome)
    assert [s.role for s in sides] == ["baseline", "candidate"]
    assert sides[0].summary is outcome.baseline_summary and sides[0].scored
    data = page_data(render_html(outcome))
    assert data["sides"][0]["label"] == "baseline (sim-stable) [saved run]"
    assert data["sides"][0]["lat_all"]
    assert data["targets"]["rows"][0][0].startswith("saved 00007: baseline (sim-stable)")
    # re-rendered from its JSON, a run judged against a saved run has no baseline records:
    # the baseline column is empty, the candidate's is whole
    bare = page_data(render_html(without_baseline_side(outcome)))
    assert bare["sides"][0]["lat_all"] == [] and set(bare["cases"]["sides"][0]["n"]) == {0}
    assert len(bare["sides"][1]["lat_all"]) == 40


def test_a_baseline_target_is_found_among_the_run_observations(outcome: Outcome) -> None:
    # A JSON report read back (store.outcome_of) holds both targets but no baseline fields.
    bare = page_data(render_html(without_baseline_side(outcome)))
    assert bare["cases"] == page_data(render_html(outcome))["cases"]


def test_without_a_comparison_each_target_is_a_side(outcome: Outcome) -> None:
    single = replace(outcome, baseline=None, candidate=None)
    data = page_data(render_html(single))
    assert [(s["role"], s["name"]) for s in data["sides"]] == [
        ("target", "baseline"),
        ("target", "candidate"),
    ]
    only = replace(
        single,
        summaries={"candidate": outcome.summaries["candidate"]},
        scored=tuple(s for s in outcome.scored if s.observation.target == "candidate"),
    )
    assert [s["name"] for s in page_data(render_html(only))["sides"]] == ["candidate"]


def test_hostile_text_cannot_leave_the_data_block(hostile: Outcome) -> None:
    page = render_html(hostile)
    page.encode("utf-8")  # lone surrogates are escaped, not written as invalid UTF-8
    assert len(re.findall(r"<script", page, re.I)) == 3
    assert len(re.findall(r"</script", page, re.I)) == 3
    blocks = DATA_BLOCKS.findall(page)
    assert len(blocks) == 2
    for _, _, body in blocks:
        for raw in ("<", ">", "&", "\u2028", "\u2029"):
            assert raw not in body
    html = markup(page)
    for needle in ("<img", "<svg", "<a ", "onerror", "javascript:", "<!--"):
        assert needle not in html.lower()
    # the text itself is kept (as text), bidi controls shown, surrogates carried through
    data = page_data(page)
    regressions = [r[k] for r in data["regressions"] for k in ("key", "reason", "before", "after")]
    shown = "\n".join(
        [*data["strings"], *data["texts"], *data["cases"]["id"], *data["notes"], *regressions]
    )
    assert "</script><script>window.__pwned = 'script'</script>" in shown
    assert "<img src=x onerror=\"window.__pwned = 'img'\">" in shown
    assert "abc⟦U+202E⟧dcba⟦U+2066⟧ reversed⟦U+2069⟧ text" in shown
    assert "\u202e" not in shown
    assert "lone \ud800 surrogate" in shown


def test_large_data_is_gzipped_base64_and_reads_back(hostile: Outcome) -> None:
    plain = page_data(render_html(hostile))
    packed_page = render_html(hostile, compress_above=0)
    for _, attrs, body in DATA_BLOCKS.findall(packed_page):
        assert 'type="application/gzip"' in attrs
        assert re.fullmatch(r"[A-Za-z0-9+/=]+", body)
    assert page_data(packed_page) == plain
    assert embed("{}", 10) == ('type="application/json"', "{}")


def test_script_json_is_inert_inside_a_script_element() -> None:
    text = script_json({"a": "</script><!--<b>&amp;\u2028\u2029 \ud83d"})
    assert text == (
        '{"a":"\\u003c/script\\u003e\\u003c!--\\u003cb\\u003e\\u0026amp;\\u2028\\u2029 \\ud83d"}'
    )
    assert json.loads(text) == {"a": "</script><!--<b>&amp;\u2028\u2029 \ud83d"}
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})


def test_outputs_are_redacted_and_long_ones_cut(outcome: Outcome) -> None:
    at, first = next(
        (i, s) for i, s in enumerate(outcome.scored) if s.observation.target == "candidate"
    )
    secret = "mail jane.doe@example.com or call +1 415 555 0132 " + "x" * (MAX_OUTPUT_CHARS + 500)
    # flagged by the scorer, or never scored for PII: either way it is redacted
    for scores in ({"pii": 1.0}, {}):
        changed = replace(
            first, observation=replace(first.observation, output=secret), scores=scores
        )
        scored = (*outcome.scored[:at], changed, *outcome.scored[at + 1 :])
        data = page_data(render_html(replace(outcome, scored=scored)))
        shown = next(s for s in data["texts"] if s.startswith("mail "))
        assert "jane.doe@example.com" not in shown and "[REDACTED:email]" in shown
        assert shown.endswith("more characters in the JSON report)")
        assert len(shown) < MAX_OUTPUT_CHARS + 80


def test_reveal_controls_shows_what_would_reorder_or_hide_text() -> None:
    assert reveal_controls("a\u202eb\x1bc\u2067d\u200f") == "a⟦U+202E⟧b⟦U+001B⟧c⟦U+2067⟧d\u200f"
    assert reveal_controls("tab\tand\nnewline") == "tab\tand\nnewline"


def test_ten_thousand_cases_stay_under_five_megabytes() -> None:
    page = render_html(synthetic_outcome(10_000, budgets=False))
    assert len(page.encode("utf-8")) < 5_000_000
    assert len(page_data(page)["cases"]["id"]) == 10_000


def test_the_data_has_no_non_finite_numbers(outcome: Outcome) -> None:
    # JSON has no NaN: a metric that is not a finite number is written as null
    summary = outcome.summaries["candidate"]
    odd = replace(summary, metrics={**summary.metrics, "latency_p95_ms": float("nan")})
    data = build_data(replace(outcome, summaries={**outcome.summaries, "candidate": odd}))
    assert data["sides"][1]["metrics"]["latency_p95_ms"] is None
    script_json(data)
