"""The pytest nodes: a golden-set file collects one item per case × target; each budget
is an item of the config file, so JUnit XML and CI test views show the gate's verdicts.

Items only read results the session already has (or is streaming in); they never call.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmguard.exceptions import EngineError
from pytest_llmguard.privacy.artefacts import case_kinds, redact_case, redact_scored
from pytest_llmguard.report.escape import safe_block, safe_text

if TYPE_CHECKING:
    from pytest_llmguard.budgets import Budget
    from pytest_llmguard.golden import GoldenSet
    from pytest_llmguard.records import Case, ErrorRecord, ScoredObservation
    from pytest_llmguard.session import GuardSession

SESSION_KEY: pytest.StashKey[GuardSession] = pytest.StashKey()
# Whether the budget items were collected already (by the first collector to get there).
BUDGETS_KEY = pytest.StashKey[bool]()


class CaseFailure(Exception):
    """A case failed its checks or its call failed; the message is the whole report."""


class BudgetWarning(UserWarning):
    """A budget whose point estimate is beyond its limit but whose interval is not (warn)."""


class _PlainFailure(pytest.Item):
    """Shows a CaseFailure as its message alone (no traceback)."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))


class CaseItemFailures:
    """Counts the case items that failed, wherever they ran (a pytest plugin object).

    An xdist worker marks each case item's reports (the mark travels with the report to the
    controller); the controller, or the single process, counts the failed ones, so the
    verdict of the run agrees with pytest's exit status.
    """

    MARK = "llmguard_case_item"

    def __init__(self) -> None:
        self.failed: set[str] = set()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item) -> Generator[None, Any, None]:
        made = yield
        if isinstance(item, CaseItem):
            setattr(made.get_result(), self.MARK, True)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and getattr(report, self.MARK, False):
            self.failed.add(report.nodeid)


class CaseItem(_PlainFailure):
    """One case × target: `golden_sets/support.yaml::refund-window[candidate]`."""

    case: Case
    target: str

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        try:
            results = session.results_for(self.case.key, self.target)
        except (TimeoutError, EngineError) as exc:
            raise CaseFailure(safe_text(str(exc), 600)) from None
        if not results:
            raise CaseFailure("no result: this case was not called (see the llmguard summary)")
        for scored in results:
            o = scored.observation
            self.user_properties.extend(
                [
                    ("latency_ms", o.latency_ms),
                    ("output_tokens", o.output_tokens),
                    ("cost_usd", o.cost_usd),
                ]
            )
        failed = [s for s in results if not s.passed]
        if failed:  # the failure text lands in the terminal and JUnit XML: stored as redacted
            case, redactor = self.case, session.outputs.redactor
            kinds = case_kinds(case, redactor)
            shown = [redact_scored(s, redactor, kinds) for s in failed]
            raise CaseFailure(failure_text(redact_case(case, redactor), shown, len(results)))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line - 1 if self.case.line else None
        return self.path, line, f"{self.case.set_name}::{self.case.id}[{self.target}]"


def failure_text(case: Case, failed: list[ScoredObservation], total: int) -> str:
    """What a failed case item prints: each failed repeat's error or checks and output."""
    lines = []
    for s in failed:
        o = s.observation
        head = f"repeat {o.repeat_index + 1}/{total}: " if total > 1 else ""
        if o.error is not None:
            lines.append(head + error_line(o.error, o.attempts))
            continue
        bad = [c for c in s.checks if not c.passed]
        lines.append(f"{head}{len(bad)} of {len(s.checks)} checks failed")
        lines.extend(f"  ✗ {safe_text(c.detail)}" for c in bad)  # details name their check
        latency = f"{o.latency_ms:.0f} ms" if o.latency_ms is not None else "? ms"
        lines.append(f"  output ({safe_text(o.model, 80)}, {latency}, {o.output_tokens} tokens):")
        lines.append("    " + safe_block(o.output or "", 600).replace("\n", "\n    "))
        if case.expected is not None:
            lines.append("  expected:")
            lines.append("    " + safe_block(case.expected, 600).replace("\n", "\n    "))
    return "\n".join(lines)


def error_line(error: ErrorRecord, attempts: int) -> str:
    """``call failed after 2 attempt(s): server_error: HTTP 503: ...`` or ``not called: ...``."""
    message = safe_text(error.message)
    status = ""
    if error.status and f"HTTP {error.status}" not in message:  # said once, not twice
        status = f" (HTTP {error.status})"
    if attempts:
        return f"call failed after {attempts} attempt(s): {error.cls}{status}: {message}"
    return f"not called: {error.cls}: {message.removeprefix('not called: ')}"


class GoldenSetFile(pytest.File):
    """A golden set file: yields one item per case × target (the first one collected also
    yields the budget items, so pytest collects and counts them like any item)."""

    golden: GoldenSet

    def collect(self) -> Iterator[pytest.Item]:
        session = self.config.stash[SESSION_KEY]
        for case in self.golden.cases:
            for target in session.targets:
                name = f"{case.id}[{target}]"
                # An explicit nodeid lets pytest parse "[target]" as parameters, as it does
                # for parametrized tests (pytest 9.2 matches --lf entries structurally).
                item = CaseItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}")
                item.case = case
                item.target = target
                item.add_marker("llmguard")
                for tag in case.tags:
                    item.add_marker(tag)
                yield item
        yield from budget_items(self.session, session)


class BudgetFile(pytest.File):
    """The config file, as the parent of one item per budget: `llmguard.yaml::budget[...]`.

    Collected itself when named on the command line (``pytest --llmguard llmguard.yaml``
    or a budget's node id); otherwise a golden-set file collects the budget items.
    """

    def collect(self) -> Iterator[pytest.Item]:
        return iter(budget_items(self.session, self.config.stash[SESSION_KEY], parent=self))


class BudgetItem(_PlainFailure):
    """One budget's verdict as a test result, so JUnit XML and CI UIs show the gate.

    It runs after every case was called and judges the whole run, waiting for the other
    xdist workers' results if needed.
    """

    budget: Budget

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        try:
            judgement = session.judgement_of_whole_run()
        except (TimeoutError, EngineError) as exc:
            raise CaseFailure(safe_text(str(exc), 600)) from None
        mine = [c for c in judgement.comparisons if c.budget == self.budget]
        if not mine:
            why = "; ".join(judgement.notes) or "no data for this budget"
            pytest.skip("not judged: " + safe_text(why, 1000))
        for c in mine:
            self.user_properties.append((f"{c.candidate}:verdict", c.verdict))
        failed = [c for c in mine if c.verdict == "fail"]
        if failed:
            raise CaseFailure("\n".join(f"{c.candidate}: {c.reason}" for c in failed))
        warned = [c for c in mine if c.verdict == "warn"]
        for c in warned:
            warnings.warn(BudgetWarning(f"{c.metric} [{c.candidate}]: {c.reason}"), stacklevel=1)
        if all(c.verdict == "skip" for c in mine):
            pytest.skip("; ".join(c.reason for c in mine))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"budget {self.name}"


def budget_items(
    session: pytest.Session, guard: GuardSession, parent: BudgetFile | None = None
) -> list[pytest.Item]:
    """One item per budget, children of the config file; only the first time it is asked."""
    if not guard.budgets or guard.config.path is None or session.stash.get(BUDGETS_KEY, False):
        return []
    session.stash[BUDGETS_KEY] = True
    if parent is None:
        parent = BudgetFile.from_parent(session, path=Path(guard.config.path))
    items: list[pytest.Item] = []
    for budget in guard.budgets:
        scope = "" if budget.scope == "all" else f"-{budget.scope}"
        name = f"budget[{budget.metric}{scope}]"
        item = BudgetItem.from_parent(parent, name=name, nodeid=f"{parent.nodeid}::{name}")
        item.budget = budget
        item.add_marker("llmguard")
        items.append(item)
    return items
