"""Where the HTML report comes from: --llmguard-report-html, its ini twin, report.html in
the config, and ``llmguard report RUN.json --html`` from a saved run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmguard.cli import main
from tests.report.test_html import page_data
from tests.test_plugin import GATED, XDIST, write_project


@pytest.mark.parametrize("xdist", XDIST)
def test_the_option_writes_the_report_once_from_the_whole_run(
    pytester: pytest.Pytester, sim_url: str, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    result = pytester.runpytest(
        "--llmguard", "golden_sets", "--llmguard-report-html", "out.html", *xdist
    )
    result.stdout.fnmatch_lines(["*report written: *out.html"])
    assert "not implemented" not in result.stdout.str()
    data = page_data((pytester.path / "out.html").read_text(encoding="utf-8"))
    saved = json.loads((pytester.path / "report.json").read_text())
    assert data["verdict"] == saved["verdict"]
    assert [s["role"] for s in data["sides"]] == ["baseline", "candidate"]
    assert [len(s["lat_all"]) for s in data["sides"]] == [3, 3]  # every worker's calls
    assert data["strings"][data["cases"]["expected"][0]]  # the golden set's reference


def test_report_html_in_the_config_and_the_ini_twin(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    config = pytester.path / "llmguard.yaml"
    text = config.read_text()
    config.write_text(text.replace("report: {json: report.json}", "report: {html: cfg.html}"))
    result = pytester.runpytest("--llmguard", "golden_sets")
    assert result.ret == 0, result.stdout.str()
    assert (pytester.path / "cfg.html").exists()
    assert "report.html is set but not implemented" not in result.stdout.str()
    pytester.makeini("[pytest]\nllmguard_report_html = ini.html\n")
    pytester.runpytest("--llmguard", "golden_sets")
    assert (pytester.path / "ini.html").exists()  # the ini twin wins over the config


def test_a_saved_baseline_is_charted_beside_the_candidate(
    pytester: pytest.Pytester, sim_url: str
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    pytester.runpytest(
        "--llmguard", "golden_sets", "--llmguard-target", "baseline", "--llmguard-save", "A.json"
    )
    pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate",
        "--llmguard-baseline",
        "A.json",
        "--llmguard-report-html",
        "b.html",
    )
    data = page_data((pytester.path / "b.html").read_text(encoding="utf-8"))
    base, cand = data["sides"]
    assert base["label"] == "baseline (sim-stable) [saved run]"
    assert len(base["lat_all"]) == 3 and len(cand["lat_all"]) == 3
    assert set(data["cases"]["sides"][0]["n"]) == {1}  # the saved run's outputs, per case


def test_llmguard_report_renders_a_saved_run_as_html(
    pytester: pytest.Pytester, sim_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    pytester.runpytest(
        "--llmguard",
        "golden_sets",
        "--llmguard-target",
        "candidate=sim-wordy",
        "--llmguard-save",
        "run.json",
    )
    capsys.readouterr()
    run, html, md = (str(pytester.path / n) for n in ("run.json", "run.html", "run.md"))
    assert main(["report", run, "--html", html, "--markdown", md]) == 0
    out = capsys.readouterr().out
    assert f"wrote {html}" in out and f"wrote {md}" in out and "llmguard verdict" not in out
    saved = json.loads(Path(run).read_text())
    data = page_data(Path(html).read_text(encoding="utf-8"))
    assert data["verdict"] == saved["verdict"] == "fail"
    assert [len(s["lat_all"]) for s in data["sides"]] == [3, 3]
    assert data["budgets"]["rows"][0][0] == "FAIL"
