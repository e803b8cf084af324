"""The sticky PR comment against a fake GitHub REST API on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmguard.publish import PublishRequest, publish
from pytest_llmguard.publish.github import (
    ContextError,
    GitHubContext,
    context_from_env,
    post_comment,
)
from pytest_llmguard.report.markdown import COMMENT_MARKER
from tests.fakes.github_server import FakeGitHub
from tests.report.outcomes import failing_outcome

TOKEN = "ghs_FAKEtoken0123456789abcdefSECRET"
REPO = "octo/app"


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=TOKEN, readonly_tokens=("ghs_readonly",)) as fake:
        fake.add_pull(REPO, 7)
        yield fake


def _context(fake: FakeGitHub, token: str = TOKEN, **kw: object) -> GitHubContext:
    return GitHubContext(REPO, 7, fake.url, token, **kw)  # type: ignore[arg-type]


def body(text: str) -> str:
    return f"{COMMENT_MARKER}\n{text}\n"


def test_creates_then_updates_one_comment_in_place(github: FakeGitHub) -> None:
    github.add_comment(REPO, 7, "LGTM", login="alice", user_type="User")
    first = post_comment(_context(github), body("run 1"))
    assert first.action == "created" and first.ok
    second = post_comment(_context(github), body("run 2"))
    assert second.action == "updated"
    comments = github.comments(REPO, 7)
    assert [c["body"] for c in comments] == ["LGTM", body("run 2")]
    assert post_comment(_context(github), body("run 2")).action == "unchanged"
    methods = [r.method for r in github.requests]
    assert methods == ["GET", "POST", "GET", "PATCH", "GET"]
    assert all(r.authorized for r in github.requests)


def test_finds_the_marker_on_a_later_page(github: FakeGitHub) -> None:
    for i in range(250):
        github.add_comment(REPO, 7, f"comment {i}", login="bob", user_type="User")
    ours = github.add_comment(REPO, 7, body("old"))
    for i in range(30):
        github.add_comment(REPO, 7, f"later {i}", login="bob", user_type="User")
    result = post_comment(_context(github), body("new"))
    assert result.action == "updated"
    gets = [r for r in github.requests if r.method == "GET"]
    assert [r.query.get("page", ["1"])[0] for r in gets] == ["1", "2", "3"]
    patch = [r for r in github.requests if r.method == "PATCH"]
    assert patch[0].path.endswith(f"/issues/comments/{ours['id']}")
    assert len(github.comments(REPO, 7)) == 281


def test_a_bots_marked_comment_wins_over_a_persons_copy(github: FakeGitHub) -> None:
    github.add_comment(REPO, 7, body("copied by a person"), login="mallory", user_type="User")
    ours = github.add_comment(REPO, 7, body("ours"))
    post_comment(_context(github), body("new"))
    by_id = {c["id"]: c["body"] for c in github.comments(REPO, 7)}
    assert by_id[ours["id"]] == body("new")
    assert body("copied by a person") in by_id.values()


def test_github_enterprise_api_url() -> None:
    with FakeGitHub(token=TOKEN, prefix="/api/v3") as ghe:
        ghe.add_pull(REPO, 7)
        assert ghe.url.endswith("/api/v3")
        for i in range(120):
            ghe.add_comment(REPO, 7, f"c{i}", user_type="User")
        assert post_comment(_context(ghe), body("x")).action == "created"
        assert post_comment(_context(ghe), body("y")).action == "updated"
        assert all(r.path.startswith("/api/v3/repos/") for r in ghe.requests)


@pytest.mark.parametrize(
    ("status", "headers", "said"),
    [
        (401, {}, "401 the token was rejected"),
        (403, {}, "403 forbidden"),
        (404, {}, "404 no such repository or pull request"),
        (422, {}, "422 GitHub refused it"),
        (500, {}, "HTTP 500"),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000000"}, "rate limited"),
        (429, {"retry-after": "60"}, "rate limited by GitHub (retry after 60)"),
    ],
)
def test_api_failures_are_results_not_exceptions(
    github: FakeGitHub, status: int, headers: dict[str, str], said: str
) -> None:
    github.fail("POST", r"/comments$", status, headers=headers, body={"message": "nope"})
    result = post_comment(_context(github), body("x"))
    assert not result.ok and result.status == status
    assert said in result.message
    assert TOKEN not in result.message


def test_a_passing_5xx_on_a_read_is_retried_once(github: FakeGitHub) -> None:
    github.fail("GET", r"/comments$", 502)
    assert post_comment(_context(github), body("x")).action == "created"
    github.fail("GET", r"/comments$", 503, times=2)
    result = post_comment(_context(github), body("y"))
    assert result.action == "failed" and "HTTP 503" in result.message


def test_a_timeout_is_reported(github: FakeGitHub) -> None:
    github.fail("POST", r"/comments$", 201, delay=1.0)
    result = post_comment(_context(github), body("x"), timeout_s=0.2)
    assert result.action == "failed" and "timed out" in result.message


def test_a_bad_token_never_reaches_a_message(github: FakeGitHub) -> None:
    bad = "ghp_WRONGtoken0123456789abcdef"
    github.fail("GET", r"/comments$", 401, body={"message": f"Bad credentials for {bad}"})
    result = post_comment(_context(github, token=bad), body("x"))
    assert "401" in result.message and bad not in result.message


def test_a_forks_read_only_token_is_detected(github: FakeGitHub) -> None:
    result = post_comment(_context(github, token="ghs_readonly", fork=True), body("x"))
    assert result.fork_readonly and result.status == 403
    assert "fork" in result.message and "step summary" in result.message
    # the same 403 on a pull request inside the repository: a missing permission
    result = post_comment(_context(github, token="ghs_readonly"), body("x"))
    assert not result.fork_readonly
    assert "not accessible by integration" in result.message
    assert "pull-requests: write" in result.message


def test_a_secondary_rate_limit_is_a_rate_limit(github: FakeGitHub) -> None:
    github.fail(
        "GET",
        r"/comments$",
        403,
        headers={"retry-after": "30"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    result = post_comment(_context(github), body("x"))
    assert "rate limited by GitHub (retry after 30)" in result.message


def _event(tmp_path: Path, number: int = 7, fork: bool = False) -> str:
    event = {
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"repo": {"full_name": "eve/app" if fork else REPO, "fork": fork}},
            "base": {"repo": {"full_name": REPO}},
        },
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return str(path)


def test_context_from_the_actions_environment(tmp_path: Path) -> None:
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": _event(tmp_path, fork=True),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
    }
    ctx = context_from_env(env)
    assert (ctx.repository, ctx.number, ctx.api_url, ctx.fork) == (
        REPO,
        7,
        "https://ghe.example.com/api/v3",
        True,
    )
    assert TOKEN not in repr(ctx)
    overridden = context_from_env(
        {**env, "LLMGUARD_GITHUB_PR": "9", "LLMGUARD_GITHUB_REPOSITORY": "a/b"}
    )
    assert (overridden.repository, overridden.number) == ("a/b", 9)
    assert context_from_env(env, number=12, api_url="http://x").number == 12
    assert context_from_env({**env, "GITHUB_API_URL": ""}).api_url == "https://api.github.com"
    for missing, said in (
        ("GITHUB_REPOSITORY", "no repository"),
        ("GITHUB_EVENT_PATH", "no pull request number"),
        ("GITHUB_TOKEN", "no token"),
    ):
        with pytest.raises(ContextError, match=said):
            context_from_env({k: v for k, v in env.items() if k != missing})


def test_publish_posts_and_falls_back_to_the_step_summary_on_a_fork(
    github: FakeGitHub, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": _event(tmp_path, fork=True),
        "GITHUB_TOKEN": "ghs_readonly",
        "GITHUB_API_URL": github.url,
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    outcome = failing_outcome()
    done = publish(outcome, PublishRequest(comment=True, strict=True), env)
    assert not done.failed  # a fork's read-only token is expected, even when strict
    text = "\n".join(done.lines)
    assert sum("fork" in line for line in done.lines) == 1
    assert "report added to the step summary" in text
    written = summary.read_text()
    assert written.startswith("> ⚠️ PR comment not posted") and COMMENT_MARKER in written
    assert "ghs_readonly" not in text + written

    env["GITHUB_TOKEN"] = TOKEN
    env["GITHUB_EVENT_PATH"] = _event(tmp_path)
    done = publish(outcome, PublishRequest(comment=True, report_url="https://x.example/r"), env)
    assert "created the PR comment" in done.lines[0]
    posted = github.comments(REPO, 7)[0]["body"]
    assert posted.startswith(COMMENT_MARKER) and "https://x.example/r" in posted


def test_strict_fails_the_run_when_the_comment_fails(github: FakeGitHub, tmp_path: Path) -> None:
    env = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": _event(tmp_path),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": github.url,
    }
    github.fail("GET", r"/comments$", 404, times=4)
    assert not publish(failing_outcome(), PublishRequest(comment=True), env).failed
    done = publish(failing_outcome(), PublishRequest(comment=True, strict=True), env)
    assert done.failed and "404" in done.lines[0]
    done = publish(failing_outcome(), PublishRequest(comment=True, strict=True), {})
    assert done.failed and "no repository" in done.lines[0]
