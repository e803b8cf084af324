"""Reports for people (terminal) and machines (JSON); a saved run is a JSON report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pytest_llmguard.atomic import write_atomic

if TYPE_CHECKING:
    from pytest_llmguard.session import Outcome


def write_reports(
    outcome: Outcome, paths: Mapping[str, str], *, save_path: str | None = None
) -> list[str]:
    """Write the configured report files; returns the paths written."""
    from pytest_llmguard.report.json_report import build_report, dumps_report

    written: list[str] = []
    document = None
    if "json" in paths or save_path:
        document = dumps_report(build_report(outcome))
    if "json" in paths and document is not None:
        write_atomic(paths["json"], document + "\n")
        written.append(paths["json"])
    if save_path and document is not None:
        if outcome.partial:
            # A partial run must never become a baseline that looks complete.
            write_atomic(save_path + ".partial", document + "\n", durable=True)
            written.append(save_path + ".partial")
        else:
            write_atomic(save_path, document + "\n", durable=True)
            written.append(save_path)
    if "markdown" in paths:
        from pytest_llmguard.report.markdown import render_markdown

        write_atomic(paths["markdown"], render_markdown(outcome))
        written.append(paths["markdown"])
    return written
