"""pytest hooks: thin translations of pytest events onto one GuardSession.

Flow: configure (load config + golden sets, one UsageError if bad) → collect one item per
case × target and one per budget → before the first item runs, start this process's
calls → items assert on their results → workers ship results, the controller assesses,
reports and saves → the gate sets the exit status in ``pytest_sessionfinish``.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmguard import collection, hookspec
from pytest_llmguard.exceptions import UsageError
from pytest_llmguard.items import (
    SESSION_KEY,
    BudgetItem,
    CaseItem,
    GoldenSetFile,
    budget_items,
)
from pytest_llmguard.options import SAVE_TO_STORE, add_options, enabled, get_option

# The engine (numpy, aiohttp, rapidfuzz) is imported only when --llmguard is on:
# without it the plugin must cost nothing.
if TYPE_CHECKING:
    from pytest_llmguard.execution import CallStrategy, Worker
    from pytest_llmguard.outcome import Outcome
    from pytest_llmguard.session import GuardSession

OUTCOME_KEY: pytest.StashKey[Outcome] = pytest.StashKey()
RUN_DIR_KEY = pytest.StashKey[str]()
RUN_DIR_INPUT = "llmguard_run_dir"
WORKER_OUTPUT = "llmguard"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


# ---- configure --------------------------------------------------------------------------


def _worker(config: pytest.Config) -> Worker | None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    from pytest_llmguard.execution import Worker

    return Worker(
        index=int(str(workerinput["workerid"]).lstrip("gw") or 0),
        count=int(workerinput.get("workercount", 1)),
        run_dir=workerinput.get(RUN_DIR_INPUT),
    )


def _is_controller(config: pytest.Config) -> bool:
    return _worker(config) is None and getattr(config.option, "dist", "no") != "no"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llmguard: a golden-set case replayed by pytest-llmguard")
    if not enabled(config):
        return
    try:
        session = _create_session(config)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    for tag in sorted({t for g in session.golden_sets for c in g.cases for t in c.tags}):
        config.addinivalue_line("markers", f"{tag}: golden-set tag")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        collection.add_golden_set_args(config, session.golden_sets)
    if _is_controller(config) and collection.only_golden_sets(config, session.golden_sets):
        collection.decline_workers(config)
    if _is_controller(config):
        config.stash[RUN_DIR_KEY] = tempfile.mkdtemp(prefix="llmguard-run-")


def _create_session(config: pytest.Config) -> GuardSession:
    from pytest_llmguard.config import load_config
    from pytest_llmguard.config.overrides import Options
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.session import GuardSession
    from pytest_llmguard.targets import registry

    config.hook.pytest_llmguard_register_providers(register=registry.register)
    cfg = load_config(str(config.rootpath), get_option(config, "config"))
    if not cfg.targets:
        where = cfg.path or f"{config.rootpath}/llmguard.yaml"
        raise UsageError(
            "no targets configured",
            file=where,
            key_path="targets",
            hint="add a targets: section, or run `llmguard init` to scaffold llmguard.yaml",
        )
    golden_sets = load_golden_sets(cfg)
    save = get_option(config, "save")
    options = Options(
        targets=tuple(get_option(config, "target") or ()),
        baseline=get_option(config, "baseline"),
        save_path=None if save in (None, SAVE_TO_STORE) else save,
        save_to_store=save == SAVE_TO_STORE,
        cache_mode=get_option(config, "cache"),
        report_json=get_option(config, "report-json"),
        report_markdown=get_option(config, "report-md"),
        repeat=get_option(config, "repeat"),
        concurrency=get_option(config, "concurrency"),
        drift=bool(get_option(config, "drift")),
    )
    return GuardSession(cfg, golden_sets, options, worker=_worker(config))


def pytest_report_header(config: pytest.Config) -> str | None:
    return config.stash.get(collection.DECLINED_KEY, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None:
        guard.close()
    run_dir = config.stash.get(RUN_DIR_KEY, None)
    if run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where partitions are handed over."""
    run_dir = node.config.stash.get(RUN_DIR_KEY, None)
    if run_dir:
        node.workerinput[RUN_DIR_INPUT] = run_dir


# ---- collection ---------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    session = parent.config.stash.get(SESSION_KEY, None)
    if session is None:
        return None
    resolved = file_path.resolve()
    for golden in session.golden_sets:
        if (parent.config.rootpath / golden.path).resolve() == resolved:
            node = GoldenSetFile.from_parent(parent, path=file_path)
            node.golden = golden
            return node
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the budget items (before -k/-m deselect), and apply --llmguard-only."""
    guard = config.stash.get(SESSION_KEY, None)
    if guard is None:
        return
    if any(isinstance(i, CaseItem) for i in items):
        items.extend(budget_items(session, guard))
    if config.getoption("llmguard_only"):
        dropped = [i for i in items if not isinstance(i, (CaseItem, BudgetItem))]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if isinstance(i, (CaseItem, BudgetItem))]


# ---- running ------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first item runs, start this process's share of the calls."""
    guard = session.config.stash.get(SESSION_KEY, None)
    if guard is None or _is_controller(session.config) or session.config.option.collectonly:
        return
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return
    selected = [(i.case, i.target) for i in session.items if isinstance(i, CaseItem)]
    units = guard.plan(selected)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or _worker(session.config) is not None or not units:
        guard.start_calls(units)
        return
    what = f"llmguard: {len(units)} calls to {len(guard.targets)} target(s)"

    def announce(strategy: CallStrategy) -> None:
        reporter.write_line(what + (", made while the items run..." if strategy.streams else "..."))

    strategy = guard.start_calls(units, announce)
    if not strategy.streams:
        reporter.write_line(f"llmguard: calls done in {strategy.call_seconds:.2f} s")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: merge a finished worker's raw results."""
    guard = node.config.stash.get(SESSION_KEY, None)
    exported = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if guard is not None and exported:
        guard.absorb(exported)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    guard = config.stash.get(SESSION_KEY, None)
    if guard is None or config.option.collectonly:
        return  # nothing was called: no verdict, no reports
    if _worker(config) is not None:
        config.workeroutput[WORKER_OUTPUT] = guard.export()  # type: ignore[attr-defined]
        return
    try:
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        guard.settle_calls(stop=interrupted)  # a call child: take (or stop and take) the rest
        partial = interrupted or guard.interrupted
        run_dir = config.stash.get(RUN_DIR_KEY, None)
        if partial and run_dir:
            # Interrupted workers never send workeroutput; they did publish their results.
            guard.absorb_published(run_dir)
        outcome = guard.finish(
            partial=partial,
            amend=lambda report: config.hook.pytest_llmguard_update_json(
                config=config, report=report
            ),
        )
    except UsageError as exc:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ERROR: {exc}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    config.stash[OUTCOME_KEY] = outcome
    try:
        config.hook.pytest_llmguard_outcome(config=config, outcome=outcome)
    except Exception as exc:  # a custom publisher must not change the gate's verdict
        warnings.warn(f"pytest_llmguard_outcome hook failed: {exc!r}", stacklevel=1)
    failed = outcome.verdict == "fail" or (guard.drift_result and guard.drift_result.failed)
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcome = config.stash.get(OUTCOME_KEY, None)
    if outcome is None:
        return
    from pytest_llmguard.report.terminal import render_terminal

    terminalreporter.section("llmguard")
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None and guard.strategy is not None and guard.strategy.streams:
        terminalreporter.write_line(
            f"llmguard: calls done in {guard.call_seconds:.2f} s (while the items ran)"
        )
    for line in render_terminal(outcome):
        red = line.startswith("llmguard verdict: FAIL")
        terminalreporter.write_line(line, red=red, bold=line.startswith("llmguard verdict"))
    drift = guard.drift_result if guard is not None else None
    if drift is not None:
        from pytest_llmguard.drift.render import render_terminal as render_drift

        terminalreporter.write_line("")
        for line in render_drift(drift):
            terminalreporter.write_line(line, red=drift.failed and line.startswith("llmguard"))
