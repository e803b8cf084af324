"""What the run reads and writes besides the wire: cache entries, baselines and saved runs,
report paths, ini options, budget scopes, case ids. Each bad one is one clear result:
a cache miss, or one usage error (exit code 4) before any call is paid for."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmguard.cache import CACHE_FORMAT, ResponseCache, pack_line, request_key
from pytest_llmguard.cli import main
from tests.conftest import SimLog

GOLDEN = """\
name: support
cases:
  - {id: refund, prompt: "How long do I have to ask for a refund?", tags: [billing]}
  - {id: shipping, prompt: "How long does shipping take to Canada?"}
"""


def _project(pytester: pytest.Pytester, sim_url: str, extra: str = "") -> None:
    target = f'{{provider: openai, base_url: "{sim_url}", model: sim-stable}}'
    pytester.makefile(
        ".yaml",
        llmguard=f"golden_sets: [golden_sets/]\ntargets:\n  t: {target}\n"
        "report: {json: report.json}\n" + extra,
    )
    (pytester.path / "golden_sets").mkdir(exist_ok=True)
    (pytester.path / "golden_sets" / "support.yaml").write_text(GOLDEN, encoding="utf-8")


def _usage_error(result: pytest.RunResult, *words: str) -> str:
    """One clear usage error: exit 4, the words in it, no traceback."""
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    for word in words:
        assert word in output, output
    return output


# ---- the cache ------------------------------------------------------------------------

GOOD_ENTRY: dict[str, Any] = {
    "case_key": "s.yaml::a",
    "target": "t",
    "repeat_index": 0,
    "model": "m",
    "output": "hi",
    "latency_ms": 12.5,
    "input_tokens": 3,
    "output_tokens": 1,
}
DAMAGED = {
    "format only": b'{"format": 1}',
    "observation null": b'{"format": 1, "observation": null}',
    "a list": b"[1, 2]",
    "a string": b'"cached"',
    "other format": json.dumps({"format": 99, "observation": GOOD_ENTRY}).encode(),
    "output a number": None,  # built below from GOOD_ENTRY
    "latency as text": None,
    "latency NaN": None,
    "latency 400 digits": None,
    "tokens negative": None,
    "tokens huge": None,
    "error not an object": None,
    "model lone surrogate": None,
    "output lone surrogate": None,
    "nested 5000 deep": b"[" * 5000 + b"]" * 5000,
    "not UTF-8": b'{"format": 1, "observation": {"output": "\xff\xfe"}}',
    "empty": b"",
}
CHANGES: dict[str, dict[str, Any]] = {
    "output a number": {"output": 123},
    "latency as text": {"latency_ms": "fast"},
    "latency NaN": {"latency_ms": math.nan},
    "latency 400 digits": {"latency_ms": int("9" * 400)},
    "tokens negative": {"output_tokens": -5},
    "tokens huge": {"input_tokens": 10**30},
    "error not an object": {"error": "boom"},
    "model lone surrogate": {"model": "m\ud800"},
    "output lone surrogate": {"output": "hi \udc00"},
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_cache_entry_of_any_shape_is_a_miss(tmp_path: Path, name: str) -> None:
    cache = ResponseCache(tmp_path, "record")
    key = request_key({"x": name}, 0)
    raw = DAMAGED[name]
    if raw is None:
        entry = {"format": CACHE_FORMAT, "observation": {**GOOD_ENTRY, **CHANGES[name]}}
        raw = json.dumps(entry, ensure_ascii=True).encode()  # NaN and "\ud800" as JSON has them
    (tmp_path / "0-0-0.pack").write_bytes(pack_line(key, raw))
    assert cache.get(key, case_key="a", target="t", repeat_index=0) is None


@pytest.mark.parametrize("kind", ["a file", "unwritable"])
def test_a_cache_dir_that_cannot_be_written_is_a_usage_error_before_any_call(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, kind: str
) -> None:
    if kind == "a file":
        (pytester.path / "cachefile").write_text("not a folder", encoding="utf-8")
        where = "cachefile"
    else:
        where = "/proc/llmguard-cache"  # not even root may create files there
    _project(pytester, sim_url, f"cache: {{dir: {where}, mode: record}}\n")
    result = pytester.runpytest("--llmguard")
    _usage_error(result, "cache.dir", where)
    assert sim_log.requests() == [], "no call may be paid for"


# ---- report and save paths ------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "path", "words"),
    [
        pytest.param("--llmguard-save", "afile/run.json", ["afile is a file"], id="file-as-folder"),
        pytest.param("--llmguard-save", "/proc/llmguard.json", ["/proc"], id="proc"),
        pytest.param("--llmguard-save", "adir", ["is a folder"], id="existing-folder"),
        pytest.param("--llmguard-report-json", "adir", ["is a folder"], id="report-folder"),
        pytest.param("--llmguard-report-md", "afile/r.md", ["afile is a file"], id="md-under-file"),
    ],
)
def test_output_paths_are_checked_before_the_calls(
    pytester: pytest.Pytester,
    sim_url: str,
    sim_log: SimLog,
    option: str,
    path: str,
    words: list[str],
) -> None:
    _project(pytester, sim_url)
    (pytester.path / "afile").write_text("x", encoding="utf-8")
    (pytester.path / "adir").mkdir()
    result = pytester.runpytest("--llmguard", f"{option}={path}")
    _usage_error(result, "cannot write", *words)
    assert sim_log.requests() == []


def test_one_failed_write_never_skips_the_other_reports(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    _project(pytester, sim_url)
    # After the paths were checked, the JSON report's path becomes a folder (a stand-in
    # for a disk that fills up): the Markdown report and the save must still be written.
    pytester.makeconftest(
        "import os\n"
        "def pytest_llmguard_update_json(config, report):\n"
        "    os.makedirs('report.json', exist_ok=True)\n"
    )
    result = pytester.runpytest("--llmguard", "--llmguard-report-md=r.md", "--llmguard-save=s.json")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    assert (pytester.path / "r.md").is_file() and (pytester.path / "s.json").is_file()
    assert "report NOT written: " in output and "report.json" in output
    assert "Traceback" not in output


# ---- baselines and saved runs ----------------------------------------------------------


def _good_run() -> dict[str, Any]:
    case = {
        "id": "refund",
        "key": "golden_sets/support.yaml::refund",
        "set": "support",
        "set_path": "golden_sets/support.yaml",
        "tags": ["billing"],
        "target": "t",
        "repeat_index": 0,
        "model": "sim-stable",
        "passed": True,
        "output": "Within 30 days.",
        "latency_ms": 10.0,
        "input_tokens": 5,
        "output_tokens": 4,
        "cost_usd": 0.0001,
        "error": None,
        "checks": [{"name": "contains", "passed": True, "detail": "found"}],
        "scores": {"similarity": 0.9},
    }
    return {
        "schema_version": 1,
        "run": {"started_at": "2026-01-01T00:00:00+00:00", "partial": False},
        "verdict": "pass",
        "targets": {"t": {"provider": "openai", "model": "sim-stable"}},
        "comparisons": [],
        "cases": [case],
    }


def _case_change(**fields: Any) -> Callable[[dict[str, Any]], Any]:
    def change(doc: dict[str, Any]) -> Any:
        doc["cases"][0].update(fields)
        return doc

    return change


BAD_RUNS: dict[str, Callable[[dict[str, Any]], Any] | bytes | None] = {
    "missing": None,
    "empty": b"",
    "truncated": json.dumps(_good_run()).encode()[:120],
    "a directory": b"",
    "schema_version 2": lambda d: d | {"schema_version": 2},
    "cases not a list": lambda d: d | {"cases": {"a": 1}},
    "case not an object": lambda d: d | {"cases": ["refund"]},
    "targets a list": lambda d: d | {"targets": ["t"]},
    "scores a string": _case_change(scores="high"),
    "score NaN": _case_change(scores={"similarity": math.nan}),
    "checks not a list": _case_change(checks={"contains": True}),
    "check passed a string": _case_change(checks=[{"name": "x", "passed": "yes"}]),
    "tags a number": _case_change(tags=7),
    "latency 400 digits": _case_change(latency_ms=int("9" * 400)),
    "output lone surrogate": _case_change(output="\ud800"),
    "error a string": _case_change(error="boom"),
    "nested 5000 deep": b"[" * 5000 + b"]" * 5000,
    "comparisons wrong": lambda d: d | {"comparisons": [{"metric": 1}]},
}


def _write_bad(folder: Path, name: str) -> Path:
    path = folder / "bad.json"
    bad = BAD_RUNS[name]
    if name == "a directory":
        path.mkdir()
    elif isinstance(bad, bytes):
        path.write_bytes(bad)
    elif bad is not None:
        path.write_text(json.dumps(bad(_good_run()), ensure_ascii=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(BAD_RUNS))
def test_a_bad_saved_run_is_one_clear_error_in_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    bad = _write_bad(tmp_path, name)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_good_run()), encoding="utf-8")
    (tmp_path / "llmguard.yaml").write_text("budgets: {error_rate: {max: 0.5}}\n")
    monkeypatch.chdir(tmp_path)  # llmguard diff discovers the config in the current folder
    for argv in (
        ["report", str(bad)],
        ["diff", str(bad), str(good)],
        ["diff", str(good), str(bad)],
    ):
        if name == "comparisons wrong" and argv[0] == "diff":
            continue  # diff judges anew: it never reads the comparisons
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 4, (argv, err)
        assert "bad.json" in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) <= 2, err  # the error, and maybe a hint


@pytest.mark.parametrize(
    "name", ["missing", "empty", "truncated", "a directory", "schema_version 2", "scores a string"]
)
def test_a_bad_baseline_is_one_usage_error_before_any_call(
    pytester: pytest.Pytester, sim_url: str, sim_log: SimLog, name: str
) -> None:
    _project(pytester, sim_url)
    _write_bad(pytester.path, name)
    result = pytester.runpytest("--llmguard", "--llmguard-baseline=bad.json")
    output = _usage_error(result, "bad.json")
    assert output.count("bad.json") <= 3, "one error, not one per item"
    assert sim_log.requests() == []


def test_a_baseline_sharing_no_case_ids_says_so(pytester: pytest.Pytester, sim_url: str) -> None:
    _project(pytester, sim_url)
    other = _good_run()
    for field in ("key", "id"):
        other["cases"][0][field] = other["cases"][0][field].replace("refund", "renamed")
    (pytester.path / "old.json").write_text(json.dumps(other), encoding="utf-8")
    result = pytester.runpytest("--llmguard", "--llmguard-baseline=old.json")
    assert "shares no case ids with this run" in result.stdout.str()
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    assert any("shares no case ids" in n for n in report["notes"])


# ---- options, budget scopes, case ids ------------------------------------------------------


@pytest.mark.parametrize(
    ("ini", "words"),
    [
        ("llmguard_repeat = abc", ["llmguard_repeat", "not a whole number"]),
        ("llmguard_repeat = 0", ["llmguard_repeat", "1 or more"]),
        ("llmguard_repeat = -5", ["llmguard_repeat", "1 or more"]),
        ("llmguard_repeat = 101", ["llmguard_repeat", "at most 100"]),
        ("llmguard_concurrency = 0", ["llmguard_concurrency", "1 or more"]),
        ("llmguard_cache = sometimes", ["llmguard_cache", "not a cache mode"]),
    ],
)
def test_ini_options_are_validated_like_their_flags(
    pytester: pytest.Pytester, sim_url: str, ini: str, words: list[str]
) -> None:
    _project(pytester, sim_url)
    pytester.makeini(f"[pytest]\n{ini}\n")
    _usage_error(pytester.runpytest("--llmguard"), *words)


def test_the_repeat_flag_has_the_schema_upper_bound(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    _project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "--llmguard-repeat=101")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "at most 100" in result.stderr.str()


@pytest.mark.parametrize(
    ("scope", "words"),
    [
        ("by_tag: {biling: {error_rate: {max: 0.1}}}", ["by_tag", "'biling'", "'billing'"]),
        ("by_set: {suport: {error_rate: {max: 0.1}}}", ["by_set", "'suport'", "'support'"]),
    ],
)
def test_a_budget_scope_that_matches_no_case_is_a_config_error(
    pytester: pytest.Pytester, sim_url: str, scope: str, words: list[str]
) -> None:
    _project(pytester, sim_url, f"budgets:\n  {scope}\n")
    _usage_error(pytester.runpytest("--llmguard"), "no case has it", "did you mean", *words)


@pytest.mark.parametrize(
    ("ids", "words"),
    [
        (["caf\u00e9", "cafe\u0301"], ["duplicate case id", "Unicode normalisation"]),
        (["refund\u200b"], ["invisible character U+200B", "ZERO WIDTH SPACE"]),
        (["a\u202eb"], ["invisible character U+202E"]),
    ],
)
def test_case_ids_are_compared_after_unicode_normalisation(
    pytester: pytest.Pytester, sim_url: str, ids: list[str], words: list[str]
) -> None:
    _project(pytester, sim_url)
    cases = "".join(
        f'  - {{id: "{i}", prompt: "How long does shipping take to Canada?"}}\n' for i in ids
    )
    (pytester.path / "golden_sets" / "support.yaml").write_text(
        f"name: support\ncases:\n{cases}", encoding="utf-8"
    )
    _usage_error(pytester.runpytest("--llmguard"), *words)


def test_a_decomposed_id_is_stored_composed(tmp_path: Path) -> None:
    from pytest_llmguard.golden import load_golden_set

    (tmp_path / "s.yaml").write_text('cases:\n  - {id: "cafe\u0301", prompt: "q"}\n')
    (case,) = load_golden_set("s.yaml", str(tmp_path)).cases
    assert case.id == "caf\u00e9"


def test_nan_never_reaches_report_json() -> None:
    from pytest_llmguard.records import Observation, ScoredObservation
    from pytest_llmguard.report.json_report import dumps_report

    scored = ScoredObservation(
        Observation("s::a", "t", 0, "m", "x", 1.0), scores={"similarity": math.nan}
    )
    document = {
        "metrics": {"a": math.nan, "b": [math.inf, 1.0]},
        "cases": [{**scored.to_dict(), "latency_ms": -math.inf}],
    }

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in the report")

    parsed = json.loads(dumps_report(document), parse_constant=no_constants)
    assert parsed["metrics"] == {"a": None, "b": [None, 1.0]}
    assert parsed["cases"][0]["scores"]["similarity"] is None


def test_llmguard_report_prints_a_crafted_run_inert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crafted = _good_run()
    hostile = "\x1b]0;title\x07\x1b[2J\u202egnp.exe\n::error::forged\n##[group]x"
    crafted["notes"] = [hostile]
    crafted["targets"]["t"]["model"] = hostile
    crafted["cases"][0]["model"] = hostile
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(crafted), encoding="utf-8")
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "forged" in out
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in out
    assert not [line for line in out.splitlines() if line.lstrip().startswith(("::", "##"))]


def test_credentials_in_base_url_with_api_key_env_is_a_config_error(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    host = sim_url.split("://", 1)[1]
    pytester.makefile(
        ".yaml",
        llmguard="targets:\n"
        f'  t: {{provider: openai, base_url: "http://me:s3cret-pw@{host}", model: m,'
        " api_key_env: SOME_KEY}\n",
    )
    output = _usage_error(pytester.runpytest("--llmguard"), "base_url carries credentials")
    assert "api_key_env" in output and "s3cret-pw" not in output


def test_a_key_with_a_line_break_inside_fails_its_target_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_llmguard.config import TargetConfig
    from pytest_llmguard.targets.credentials import key_warning, missing_key_message

    target = TargetConfig(name="t", provider="openai", model="m", api_key_env="HOSTILE_KEY")
    monkeypatch.setenv("HOSTILE_KEY", "sk-abc\ndef")
    problem = missing_key_message(target)
    assert problem is not None and "line break" in problem and "sk-abc" not in problem
    monkeypatch.setenv("HOSTILE_KEY", "sk-abcdef\r\n")
    assert missing_key_message(target) is None
    assert "ends (or starts) with whitespace" in (key_warning(target) or "")
