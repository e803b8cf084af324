from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from pytest_llmguard.report.json_report import _ENCODE_CASE, dumps_report, finite


def _document() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run": {"started_at": "2026-01-01T00:00:00+00:00", "git": {"commit": None}},
        "verdict": "pass",
        "notes": [],
        "targets": {"a": {"metrics": {"latency_p95_ms": 412.5}}},
        "cases": [
            {"key": "s.yaml::c1", "output": "café\nline two", "scores": {"pii": 0.0}},
            {"key": "s.yaml::c2", "output": None, "checks": [{"name": "call", "passed": False}]},
        ],
    }


def test_dumps_report_parses_back_to_the_same_document() -> None:
    doc = _document()
    assert json.loads(dumps_report(doc)) == doc


def test_dumps_report_puts_each_case_on_one_line_and_keeps_unicode() -> None:
    text = dumps_report(_document())
    case_lines = [line for line in text.splitlines() if line.lstrip().startswith('{"key"')]
    assert len(case_lines) == 2
    assert "café" in text  # not escaped to \u00e9
    assert text.splitlines()[0] == "{"


def test_dumps_report_without_cases() -> None:
    doc = {**_document(), "cases": []}
    assert json.loads(dumps_report(doc)) == doc


def test_case_lines_are_exactly_what_json_writes() -> None:
    reference = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    tricky = {
        "output": 'café "quoted" \\ \n\t\x00 \u2028 😀',
        "floats": [0.1, -0.0, 1e300, 5e-324, float("nan"), float("inf"), -float("inf")],
        "ints": [0, -1, 2**70, True, False, None],
        "keys": {7: "int", 2.5: "float", False: "bool", None: "none"},
        "nested": {"checks": [{"name": "x", "passed": False}], "scores": {}, "tags": []},
    }
    # NaN and infinity are not JSON: the report writes them as null (issue #12)
    assert _ENCODE_CASE(tricky) == reference(finite(tricky))
    line = dumps_report({"cases": [tricky]}).split("\n")[2].strip()
    assert line == reference(finite(tricky))
    with pytest.raises(TypeError, match="not JSON serializable"):
        _ENCODE_CASE({"bad": object()})


def test_cases_parse_the_same_with_and_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson (one call over all cases, cut at markers) and json give the same values."""
    pytest.importorskip("orjson")
    cases = [
        {
            "key": f"s.yaml::c{i}",
            # outputs that look like the cut marker, quotes and separators must not cut
            "output": f'{i} ","\\u0000llmguard-case-break\\u0000", '
            + '\x00llmguard-case-break\x00 },{"',
            "tags": ("a", "\x00llmguard-case-break\x00") if i == 7 else ("a", "b"),
            "latency_ms": 100.0 + i / 3,
            "scores": {"similarity": 0.5, "judge": None},
        }
        for i in range(50)
    ]
    fast = dumps_report({"cases": cases})
    monkeypatch.setitem(sys.modules, "orjson", None)  # ImportError: json
    slow = dumps_report({"cases": cases})
    expected = json.loads(json.dumps({"cases": cases}))
    assert json.loads(fast) == json.loads(slow) == expected
    assert len(fast.splitlines()) == len(slow.splitlines()) == 50 + 4  # a line per case
