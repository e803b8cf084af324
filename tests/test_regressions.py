from __future__ import annotations

from pytest_llmguard.records import CheckResult, Observation, ScoredObservation
from pytest_llmguard.regressions import find_regressions
from pytest_llmguard.report.markdown import escape_cell


def _s(key: str, target: str, output: str, passed: bool, sim: float) -> ScoredObservation:
    obs = Observation(key, target, 0, "m", output, 10.0)
    detail = 'contains "30 days": found' if passed else 'contains "30 days": not found'
    checks = (CheckResult("contains", passed, detail),)
    return ScoredObservation(obs, checks, {"similarity": sim})


def test_newly_failing_cases_rank_first_then_similarity_drops() -> None:
    base = [
        _s("a", "b", "refund within 30 days", True, 1.0),
        _s("b", "b", "ships in 5 days", True, 0.95),
        _s("c", "b", "open settings", True, 0.9),
    ]
    cand = [
        _s("a", "c", "refund within 60 days", False, 0.9),
        _s("b", "c", "ships in about a week or so", True, 0.7),
        _s("c", "c", "open settings", True, 0.89),  # within noise: not a regression
    ]
    found = find_regressions(base, cand)
    assert [r.case_key for r in found] == ["a", "b"]
    assert found[0].reason.startswith("now fails: contains")
    assert "[-30-]{+60+}" in found[0].diff
    assert [(s.kind, s.text) for s in found[0].spans if s.kind in ("del", "ins")] == [
        ("del", "30"),
        ("ins", "60"),
    ]
    assert "fell 0.25" in found[1].reason
    assert 0 < found[0].output_similarity < 1


def test_escape_cell_neutralises_markdown_and_html() -> None:
    text = "<script>x</script> | @octocat #12 `code` [a](javascript:x)\n\x1b[31mred"
    cell = escape_cell(text)
    for raw in ("<script>", "|", "`", "\n", "\x1b", "@octocat", "[a]"):
        assert raw not in cell
    assert "&lt;script&gt;" in cell
