"""`pytest --llmguard` in GitHub Actions: the sticky comment, step summary and annotations,
posted once by the process that judges (also under xdist), never changing the verdict
unless strict, never showing the token. `llmguard comment` does the same from a saved run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmguard.cli import main
from pytest_llmguard.report.markdown import COMMENT_MARKER
from tests.fakes.github_server import FakeGitHub
from tests.test_plugin import GATED, write_project

TOKEN = "ghs_PLUGINfake0123456789abcdefSECRET"
REPO = "octo/app"
XDIST = [pytest.param([], id="single"), pytest.param(["-n", "2"], id="xdist")]


@pytest.fixture()
def github(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_pull(REPO, 3)
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": 3}}))
        for name, value in {
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_API_URL": fake.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_STEP_SUMMARY": str(pytester.path / "summary.md"),
            "GITHUB_WORKSPACE": str(pytester.path),
        }.items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.mark.parametrize("xdist", XDIST)
def test_a_failing_gate_comments_once_and_annotates(
    pytester: pytest.Pytester, sim_url: str, github: FakeGitHub, xdist: list[str]
) -> None:
    write_project(pytester, sim_url, extra=GATED)
    args = ["--llmguard", "golden_sets", "--llmguard-target", "candidate=sim-wordy", *xdist]
    result = pytester.runpytest(*args, "--llmguard-comment")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the gate's verdict, nothing more
    comments = github.comments(REPO, 3)
    assert len(comments) == 1 and comments[0]["body"].startswith(COMMENT_MARKER)
    assert "## ❌ llmguard: FAIL" in comments[0]["body"]
    out = result.stdout.str()
    assert "llmguard: created the PR comment" in out
    assert "llmguard: report added to the step summary" in out
    errors = re.findall(r"^::error (.*)$", out, flags=re.M)
    assert errors and errors[0].startswith("file=llmguard.yaml,line=")
    assert any("budget failed%3A output_tokens_mean" in e for e in errors)
    summary = (pytester.path / "summary.md").read_text()
    assert summary.startswith(COMMENT_MARKER)
    assert TOKEN not in out + summary
    if xdist:
        return  # once is enough to show the controller alone posts

    again = pytester.runpytest(*args, "--llmguard-comment")
    assert "llmguard: updated the PR comment" in again.stdout.str()
    assert len(github.comments(REPO, 3)) == 1
    assert [r.method for r in github.requests].count("POST") == 1
    assert TOKEN not in again.stdout.str()


def test_an_api_failure_is_reported_and_fails_only_when_strict(
    pytester: pytest.Pytester, sim_url: str, github: FakeGitHub
) -> None:
    write_project(pytester, sim_url)
    github.fail("GET", r"/comments$", 500, times=4)
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-comment")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["llmguard: PR comment not posted: GET */comments: HTTP 500*", "*verdict is unchanged*"]
    )
    assert "PR comment not posted" in (pytester.path / "summary.md").read_text()
    strict = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-comment-strict")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    strict.stdout.fnmatch_lines(["*--llmguard-comment-strict fails the run*"])


def test_without_a_token_nothing_is_posted_and_the_run_passes(
    pytester: pytest.Pytester, sim_url: str, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("LLMGUARD_GITHUB", "0")  # no step summary, no annotations
    write_project(pytester, sim_url)
    result = pytester.runpytest("--llmguard", "golden_sets", "--llmguard-comment")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["llmguard: PR comment not posted: no token*"])
    assert "::error" not in result.stdout.str() and not (pytester.path / "summary.md").exists()
    assert github.requests == []


def test_llmguard_comment_posts_a_saved_run(
    pytester: pytest.Pytester,
    sim_url: str,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LLMGUARD_GITHUB", "0")
    write_project(pytester, sim_url, extra=GATED)
    pytester.runpytest("--llmguard", "golden_sets", "--llmguard-target", "candidate=sim-wordy")
    capsys.readouterr()
    report = str(pytester.path / "report.json")
    url = "https://github.example/octo/app/actions/runs/1/artifacts/2"
    assert main(["comment", report, "--report-url", url]) == 0
    assert "created the PR comment" in capsys.readouterr().out
    body = github.comments(REPO, 3)[0]["body"]
    assert body.startswith(COMMENT_MARKER) and f"[full HTML report]({url})" in body
    assert "- **Candidate:** candidate (sim-wordy)" in body
    # another pull request, named on the command line; strict turns a failure into exit 1
    assert main(["comment", report, "--pr", "99", "--strict"]) == 1
    assert "404" in capsys.readouterr().out
