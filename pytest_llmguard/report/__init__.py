"""Reports for people (terminal, Markdown, HTML) and machines (JSON), rendered from an Outcome.

Renderers import only records and outcomes; they never recompute a verdict. The JSON
report is also what a saved run is (``store``): ``render_json`` builds it once, the
caller may amend it (the ``pytest_llmguard_update_json`` hook) before it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.outcome import Outcome

Amend = Callable[[dict[str, Any]], None]


def render_json(outcome: Outcome, amend: Amend | None = None) -> str:
    """The JSON report's text, after ``amend`` has had its say on the document."""
    from pytest_llmguard.report.json_report import build_report, dumps_report

    document = build_report(outcome)
    if amend is not None:
        amend(document)
    return dumps_report(document)


def write_reports(
    outcome: Outcome,
    paths: Mapping[str, str],
    *,
    document: str | None = None,
    amend: Amend | None = None,
    failed: list[str] | None = None,
) -> list[str]:
    """Write the configured reports (``json``, ``markdown``, ``html``); returns the paths written.

    ``document`` is the JSON report's text when the caller has built it already. With
    ``failed``, a report that cannot be written is noted there (``path: why``) and the
    others are still written; without it the first failure raises.
    """
    written: list[str] = []

    def one(path: str, render: Callable[[], str]) -> None:
        try:
            write_atomic(path, render())
        except (OSError, UnicodeError, ValueError) as exc:
            if failed is None:
                raise
            failed.append(f"{path}: {type(exc).__name__}: {exc}")
            return
        written.append(path)

    if "json" in paths:
        one(
            paths["json"],
            lambda: (document if document is not None else render_json(outcome, amend)) + "\n",
        )
    if "markdown" in paths:
        from pytest_llmguard.report.markdown import render_markdown

        one(paths["markdown"], lambda: render_markdown(outcome))
    if "html" in paths:
        from pytest_llmguard.report.html import render_html

        one(paths["html"], lambda: render_html(outcome))
    return written
