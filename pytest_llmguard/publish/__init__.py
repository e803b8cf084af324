"""Where results go beyond the report files: one module per destination.

``github`` posts the sticky pull-request comment; ``actions`` writes the GitHub Actions
step summary and annotations; ``alerts`` (with ``webhook``, ``github_issues`` and
``spool``) delivers the nightly drift check's alerts (``drift.nightly`` calls it).
``publish`` runs the first two for one outcome (the pytest run after its verdict,
``llmguard comment`` from a saved run) and says what happened; it never raises, and a
failed comment changes the result only when ``strict`` is asked (a fork's read-only
token excepted: that is expected, and the step summary stands in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pytest_llmguard.outcome import Outcome

DISABLED = ("0", "false", "off", "no")


@dataclass(frozen=True, slots=True)
class PublishRequest:
    """What to publish: the comment (``strict``: its failure fails the run), the link."""

    comment: bool = False
    strict: bool = False
    report_url: str | None = None
    rootdir: str = "."
    repository: str | None = None  # overrides of the GitHub context
    number: int | None = None
    api_url: str | None = None
    summary: bool = True  # append the report to the step summary (else only a failure)
    annotate: bool = True  # emit annotations


@dataclass(frozen=True, slots=True)
class Published:
    """What happened: lines for the user, workflow commands, and whether it failed."""

    lines: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    failed: bool = False


def _comment(
    outcome: Outcome, request: PublishRequest, env: Mapping[str, str], report_url: str | None
) -> tuple[str, bool, bool]:
    """Post the comment: (what to say, whether it was posted, whether a fork refused it)."""
    from pytest_llmguard.publish.github import ContextError, context_from_env, post_comment
    from pytest_llmguard.report.markdown import COMMENT_LIMIT, render_markdown

    try:
        context = context_from_env(
            env, repository=request.repository, number=request.number, api_url=request.api_url
        )
    except ContextError as exc:
        return f"PR comment not posted: {exc}", False, False
    body = render_markdown(outcome, limit=COMMENT_LIMIT, report_url=report_url)
    result = post_comment(context, body)
    if result.ok:
        return result.message, True, False
    return f"PR comment not posted: {result.message}", False, result.fork_readonly


def publish(outcome: Outcome, request: PublishRequest, env: Mapping[str, str]) -> Published:
    """Post the comment (if asked), append the step summary and emit annotations (in
    GitHub Actions), each as its environment allows."""
    if not (request.comment or env.get("GITHUB_STEP_SUMMARY", "").strip()) and (
        env.get("GITHUB_ACTIONS") != "true"
    ):
        return Published()  # nothing to do here: a local run never imports the renderers
    from pytest_llmguard.publish.actions import (
        actions_env,
        append_notice,
        append_step_summary,
        workflow_annotations,
    )

    report_url = request.report_url or env.get("LLMGUARD_REPORT_URL") or None
    lines: list[str] = []
    notice = None
    failed = False
    if request.comment:
        message, posted, fork = _comment(outcome, request, env, report_url)
        lines.append(f"llmguard: {message}")
        if not posted:
            notice = message
            failed = request.strict and not fork
            if not fork:
                lines.append(
                    "llmguard: the verdict is unchanged by this"
                    + (" but --llmguard-comment-strict fails the run" if failed else "")
                )
    quiet = env.get("LLMGUARD_GITHUB", "").strip().lower() in DISABLED
    summary = env.get("GITHUB_STEP_SUMMARY", "").strip()
    problem = None
    if summary and not quiet and request.summary:
        problem = append_step_summary(summary, outcome, report_url=report_url, notice=notice)
        lines.append(f"llmguard: {problem or 'report added to the step summary'}")
    elif summary and not quiet and notice:
        problem = append_notice(summary, notice)
        lines.append(f"llmguard: {problem or 'said so in the step summary'}")
    commands: tuple[str, ...] = ()
    if request.annotate and actions_env(env):
        found = workflow_annotations(
            outcome, rootdir=request.rootdir, workspace=env.get("GITHUB_WORKSPACE")
        )
        commands = tuple(a.command() for a in found)
    return Published(tuple(lines), commands, failed)
