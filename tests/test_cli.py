"""The `llmguard` command: init, report, diff and sim --config, as a user runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pytest_llmguard.cli import main
from tests.test_plugin import GATED, write_project


def test_init_scaffolds_a_working_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path)]) == 0
    created = capsys.readouterr().out
    for name in ("llmguard.yaml", "example.yaml", "llmguard-pr.yml", "llmguard-nightly.yml"):
        assert name in created
    assert main(["init", str(tmp_path)]) == 0  # existing files are kept
    assert "created" not in capsys.readouterr().out
    from pytest_llmguard.config import load_config
    from pytest_llmguard.golden import load_golden_sets

    config = load_config(str(tmp_path))
    assert set(config.targets) == {"baseline", "candidate"}
    assert [g.name for g in load_golden_sets(config)] == ["example"]


def test_init_files_are_readable_ignored_and_kept_when_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("build/")  # no trailing newline
    (tmp_path / "llmguard.yaml").write_text("# mine\n")
    old = os.umask(0o022)
    try:
        assert main(["init", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    out = capsys.readouterr().out
    assert f"kept {tmp_path / 'llmguard.yaml'} (it exists; --force overwrites it)" in out
    assert (tmp_path / "llmguard.yaml").read_text() == "# mine\n"
    example = tmp_path / "golden_sets" / "example.yaml"
    assert stat.S_IMODE(example.stat().st_mode) == 0o644  # not mkstemp's 0600
    ignored = (tmp_path / ".gitignore").read_text().splitlines()
    assert ignored == ["build/", "# pytest-llmguard", ".llmguard/", "llmguard-report.*"]
    assert main(["init", str(tmp_path)]) == 0  # nothing to add twice
    assert (tmp_path / ".gitignore").read_text().splitlines() == ignored
    assert "updated" not in capsys.readouterr().out


def test_the_scaffolded_gate_judges_out_of_the_box(pytester: pytest.Pytester) -> None:
    assert main(["init", str(pytester.path)]) == 0
    result = pytester.runpytest("--llmguard", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["llmguard verdict: PASS"])
    budget_rows = [line for line in result.stdout.lines if line.startswith(("PASS ", "SKIP "))]
    assert len(budget_rows) == 4 and not any(r.startswith("SKIP") for r in budget_rows)


def test_shipped_workflow_templates_match_the_repo_copies() -> None:
    """The repo's copies are the templates installing from the checkout; `llmguard init`
    writes them pinned to the version that wrote them (tests/test_workflows.py)."""
    from pytest_llmguard.scaffold import WORKFLOWS, render_workflow

    root = Path(__file__).resolve().parent.parent
    for name in WORKFLOWS:
        shipped = render_workflow(name, install="pip install -e .")
        assert shipped == (root / ".github" / "workflows" / name).read_text()


def _two_runs(pytester: pytest.Pytester, sim_url: str) -> None:
    write_project(
        pytester,
        sim_url,
        extra=GATED.replace("compare: {baseline: baseline, candidate: candidate}\n", ""),
    )
    for model, path in (("sim-stable", "a.json"), ("sim-wordy", "b.json")):
        pytester.runpytest(
            "--llmguard",
            "golden_sets",
            "--llmguard-target",
            f"candidate={model}",
            "--llmguard-target",
            "candidate",
            "--llmguard-save",
            path,
        )


def test_diff_judges_two_saved_runs(
    pytester: pytest.Pytester,
    sim_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _two_runs(pytester, sim_url)
    monkeypatch.chdir(pytester.path)
    assert main(["diff", "a.json", "b.json"]) == 1
    out = capsys.readouterr().out
    assert "llmguard verdict: FAIL" in out and "output_tokens_mean" in out
    assert main(["diff", "a.json", "a.json", "--markdown"]) == 0
    assert "<!-- pytest-llmguard:report -->" in capsys.readouterr().out


def test_report_rerenders_without_recomputing(
    pytester: pytest.Pytester, sim_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _two_runs(pytester, sim_url)
    saved = json.loads((pytester.path / "b.json").read_text())
    assert main(["report", str(pytester.path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert f"llmguard verdict: {saved['verdict'].upper()}" in out
    md = pytester.path / "b.md"
    assert main(["report", str(pytester.path / "b.json"), "--markdown", str(md)]) == 0
    assert md.read_text().startswith("<!-- pytest-llmguard:report -->")


def test_report_and_diff_write_markdown_the_same_way_and_keep_every_section(
    pytester: pytest.Pytester,
    sim_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    only_candidate = ("--llmguard-target", "candidate")
    pytester.runpytest("--llmguard", "golden_sets", *only_candidate, "--llmguard-save", "a.json")
    pytester.runpytest(
        "--llmguard",
        "golden_sets",
        *only_candidate,
        "--llmguard-target",
        "candidate=sim-drifted",
        "--llmguard-baseline",
        "a.json",
        "--llmguard-save",
        "b.json",
    )
    assert json.loads((pytester.path / "b.json").read_text())["regressions"]
    monkeypatch.chdir(pytester.path)
    sections = ("<!-- pytest-llmguard:report -->", "### Worst regressed cases", "Failed cases")
    for command in (["report", "b.json"], ["diff", "a.json", "b.json"]):
        for form in (["--markdown"], ["--markdown", "-"]):
            main([*command, *form])
            printed = capsys.readouterr().out
            assert all(section in printed for section in sections), (command, form)
        main([*command, "--markdown", "out.md"])
        assert capsys.readouterr().out == "wrote out.md\n"
        written = (pytester.path / "out.md").read_text()
        assert all(section in written for section in sections), command


def test_bad_saved_run_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    assert main(["report", str(bad)]) == 4
    err = capsys.readouterr().err
    assert "is not an llmguard run" in err and "Traceback" not in err


def test_sim_serves_the_golden_sets_answers(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmguard.cli", "sim", "--config", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("serving", 1)[1].strip()
        body = json.dumps(
            {
                "model": "sim-stable",
                "messages": [
                    {"role": "user", "content": "How long do I have to ask for a refund?"}
                ],
            }
        ).encode()
        req = urllib.request.Request(url + "/chat/completions", data=body)
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())["choices"][0]["message"]["content"]
        assert answer == "You can ask for a refund within 30 days of purchase, with your receipt."
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_public_api_names_resolve() -> None:
    import pytest_llmguard

    for name in pytest_llmguard.__all__:
        assert getattr(pytest_llmguard, name) is not None
    with pytest.raises(AttributeError):
        _ = pytest_llmguard.no_such_name  # type: ignore[attr-defined]
