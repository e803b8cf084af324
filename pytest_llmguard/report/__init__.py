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
) -> list[str]:
    """Write the configured reports (``json``, ``markdown``, ``html``); returns the paths written.

    ``document`` is the JSON report's text when the caller has built it already.
    """
    written: list[str] = []
    if "json" in paths:
        text = document if document is not None else render_json(outcome, amend)
        write_atomic(paths["json"], text + "\n")
        written.append(paths["json"])
    if "markdown" in paths:
        from pytest_llmguard.report.markdown import render_markdown

        write_atomic(paths["markdown"], render_markdown(outcome))
        written.append(paths["markdown"])
    if "html" in paths:
        from pytest_llmguard.report.html import render_html

        write_atomic(paths["html"], render_html(outcome))
        written.append(paths["html"])
    return written
