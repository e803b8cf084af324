"""pytest hooks: thin translations of pytest events onto one GuardSession.

Flow: configure (load config + golden sets, one UsageError if bad) → collect one item per
case × target and one per budget → before the first item runs, start this process's
calls → items assert on their results → workers ship results, the controller assesses,
reports and saves → the gate sets the exit status in ``pytest_sessionfinish``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmguard import collection, hookspec, signals
from pytest_llmguard.exceptions import UsageError
from pytest_llmguard.items import (
    SESSION_KEY,
    BudgetFile,
    BudgetItem,
    CaseItem,
    CaseItemFailures,
    GoldenSetFile,
)
from pytest_llmguard.options import (
    SAVE_TO_STORE,
    add_options,
    enabled,
    get_option,
    option_labels,
)
from pytest_llmguard.report.escape import safe_block

# The engine (numpy, aiohttp, rapidfuzz) is imported only when --llmguard is on:
# without it the plugin must cost nothing.
if TYPE_CHECKING:
    from pytest_llmguard.execution import CallStrategy, Worker
    from pytest_llmguard.outcome import Outcome
    from pytest_llmguard.publish import Published
    from pytest_llmguard.records import Case
    from pytest_llmguard.session import GuardSession

OUTCOME_KEY: pytest.StashKey[Outcome] = pytest.StashKey()
PUBLISHED_KEY: pytest.StashKey[Published] = pytest.StashKey()
RUN_DIR_KEY = pytest.StashKey[str]()
SIGTERM_KEY = pytest.StashKey[object]()  # the SIGTERM handler to put back
HEADER_KEY = pytest.StashKey[list[str]]()
FAILED_ITEMS_KEY = pytest.StashKey[CaseItemFailures]()
RUN_DIR_INPUT = "llmguard_run_dir"
NOW_INPUT = "llmguard_now"
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
    config.pluginmanager.register(config.stash.setdefault(FAILED_ITEMS_KEY, CaseItemFailures()))
    for tag in sorted({t for g in session.golden_sets for c in g.cases for t in c.tags}):
        config.addinivalue_line("markers", f"{tag}: golden-set tag")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        collection.add_golden_set_args(config, session.golden_sets)
    if _is_controller(config) and collection.only_golden_sets(config, session.golden_sets):
        collection.decline_workers(config)
    if _is_controller(config):
        run_dir = config.stash[RUN_DIR_KEY] = tempfile.mkdtemp(prefix="llmguard-run-")
        config.stash[SIGTERM_KEY] = signals.treat_sigterm_as_interrupt(
            lambda: signals.interrupt_workers(run_dir)
        )
    else:
        config.stash[SIGTERM_KEY] = signals.treat_sigterm_as_interrupt()
    from pytest_llmguard.targets.credentials import key_warnings

    config.stash[HEADER_KEY] = key_warnings(session.targets.values())


def _create_session(config: pytest.Config) -> GuardSession:
    from pytest_llmguard.config import load_config
    from pytest_llmguard.config.overrides import Options
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.session import GuardSession
    from pytest_llmguard.targets import registry

    config.hook.pytest_llmguard_register_providers(register=registry.register)
    labels = option_labels(config)
    cfg = load_config(str(config.rootpath), get_option(config, "config"), labels["config"])
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
        report_html=get_option(config, "report-html"),
        repeat=get_option(config, "repeat"),
        concurrency=get_option(config, "concurrency"),
        shard=get_option(config, "shard"),
        labels=labels,
        logs=tuple(get_option(config, "logs") or ()),
        sample=get_option(config, "sample"),
        drift=bool(get_option(config, "drift")),
    )
    workerinput = getattr(config, "workerinput", {})
    now = workerinput.get(NOW_INPUT)  # the controller's clock: one log sample for all
    return GuardSession(cfg, golden_sets, options, worker=_worker(config), now=now)


def pytest_report_header(config: pytest.Config) -> list[str]:
    declined = config.stash.get(collection.DECLINED_KEY, None)
    lines = [*([declined] if declined else []), *config.stash.get(HEADER_KEY, [])]
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None and guard.log_cases is not None:
        lines.extend(f"llmguard: {note}" for note in guard.log_cases.notes())
    return lines


def pytest_unconfigure(config: pytest.Config) -> None:
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None:
        guard.close()
    if SIGTERM_KEY in config.stash:
        signals.restore(config.stash[SIGTERM_KEY])
    run_dir = config.stash.get(RUN_DIR_KEY, None)
    if run_dir:
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: tell each worker where partitions are handed over."""
    run_dir = node.config.stash.get(RUN_DIR_KEY, None)
    if run_dir:
        node.workerinput[RUN_DIR_INPUT] = run_dir
    guard = node.config.stash.get(SESSION_KEY, None)
    if guard is not None:
        node.workerinput[NOW_INPUT] = guard.now


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
    if session.config.path and Path(session.config.path).resolve() == resolved:
        return BudgetFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Generator[None]:
    """Apply --llmguard-only (before -k/-m deselect); after every selection, put the
    budget items last (they judge the whole run)."""
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None and config.getoption("llmguard_only"):
        dropped = [i for i in items if not isinstance(i, (CaseItem, BudgetItem))]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if isinstance(i, (CaseItem, BudgetItem))]
    if guard is not None and guard.options.shard is not None:
        _keep_shard(config, items, guard.options.shard)
    result = yield
    if guard is not None:
        items.sort(key=lambda item: isinstance(item, BudgetItem))  # stable: order kept
    return result


def _keep_shard(config: pytest.Config, items: list[pytest.Item], shard: tuple[int, int]) -> None:
    """--llmguard-shard I/N: this shard's case items only, and no budget item (a shard
    judges no budget: ``llmguard merge`` judges the joined shards)."""
    from pytest_llmguard.shards import shard_of

    index, count = shard
    others = [
        i
        for i in items
        if isinstance(i, BudgetItem)
        or (isinstance(i, CaseItem) and shard_of(i.case.key, count) != index)
    ]
    if others:
        config.hook.pytest_deselected(items=others)
        away = set(others)
        items[:] = [i for i in items if i not in away]


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
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    brought = _brought_by_budgets(session, guard, selected)
    if brought and reporter is not None and _worker(session.config) is None:
        reporter.write_line(
            f"llmguard: the selected budget items judge {len({c.key for c, _ in brought})} "
            "case(s) whose items were not selected: calling them too"
        )
    units = guard.plan(selected + brought)
    if reporter is None or _worker(session.config) is not None or not units:
        guard.start_calls(units)
        return
    # Not "N calls": some may come from the cache (the summary counts the calls made).
    what = f"llmguard: {len(units)} responses to get from {len(guard.targets)} target(s)"

    def announce(strategy: CallStrategy) -> None:
        reporter.write_line(what + (", made while the items run..." if strategy.streams else "..."))

    strategy = guard.start_calls(units, announce)
    if not strategy.streams:
        reporter.write_line(f"llmguard: calls done in {strategy.call_seconds:.2f} s")


def _brought_by_budgets(
    session: pytest.Session, guard: GuardSession, selected: list[tuple[Case, str]]
) -> list[tuple[Case, str]]:
    """What selected budget items judge whose case items were not selected (see
    ``budget_cases.cases_judged_by``); says so when there is nothing to judge at all."""
    budgets = [i.budget for i in session.items if isinstance(i, BudgetItem)]
    if not budgets:
        return []
    from pytest_llmguard.budget_cases import cases_judged_by

    in_play = collection.golden_sets_in_play(session.config, guard.golden_sets)
    cases = [c for g in in_play for c in g.cases]
    have = {(case.key, target) for case, target in selected}
    brought = cases_judged_by(budgets, cases, list(guard.targets), have)
    if not selected and not brought:
        guard.unjudged.append(
            "budget items were selected, but none of the cases they judge: nothing was "
            "judged (select the golden sets too, e.g. run without -k or --lf)"
        )
    return brought


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: merge a finished worker's raw results, or what a crashed one left."""
    guard = node.config.stash.get(SESSION_KEY, None)
    if guard is None:
        return
    exported = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if exported and not error:
        guard.absorb(exported)
    elif error and error != "keyboard-interrupt":  # killed, out of memory, a segfault...
        run_dir = node.config.stash.get(RUN_DIR_KEY, None)
        index = int(str(node.gateway.id).lstrip("gw") or 0)
        if run_dir:
            guard.absorb_crashed(run_dir, index, error)


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
        incomplete = []
        if interrupted and guard.strategy is None and session.testsfailed:
            incomplete.append(
                "errors during collection interrupted the run before any case was called "
                "(see the errors above)"
            )
        outcome = guard.finish(
            partial=partial,
            incomplete=incomplete,
            amend=lambda report: config.hook.pytest_llmguard_update_json(
                config=config, report=report
            ),
            failed_items=len(config.stash[FAILED_ITEMS_KEY].failed),
        )
    except UsageError as exc:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ERROR: {safe_block(str(exc))}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    config.stash[OUTCOME_KEY] = outcome
    try:
        config.hook.pytest_llmguard_outcome(config=config, outcome=outcome)
    except Exception as exc:  # a custom publisher must not change the gate's verdict
        warnings.warn(f"pytest_llmguard_outcome hook failed: {exc!r}", stacklevel=1)
    published = _publish(config, outcome)
    # A failed gate, a run that did not judge everything (a crash, a lost worker), a
    # report that could not be written, a strict comment not posted, or drift: never green.
    drifted = guard.drift_result is not None and guard.drift_result.failed
    failed = (
        outcome.verdict == "fail"
        or not outcome.complete
        or outcome.unwritten
        or published.failed
        or drifted
    )
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _publish(config: pytest.Config, outcome: Outcome) -> Published:
    """The PR comment (if asked), step summary and annotations (in GitHub Actions)."""
    from pytest_llmguard.publish import PublishRequest, publish

    strict = bool(get_option(config, "comment-strict"))
    request = PublishRequest(
        comment=strict or bool(get_option(config, "comment")),
        strict=strict,
        report_url=get_option(config, "report-url"),
        rootdir=str(config.rootpath),
    )
    published = publish(outcome, request, os.environ)
    config.stash[PUBLISHED_KEY] = published
    return published


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
        red = line.startswith(("llmguard verdict: FAIL", "incomplete:", "report NOT written"))
        terminalreporter.write_line(line, red=red, bold=line.startswith("llmguard verdict"))
    published = config.stash.get(PUBLISHED_KEY, None)
    if published is not None:
        for line in published.lines:
            terminalreporter.write_line(line)
        # workflow commands: each alone on its line, without colour, for the runner to read
        terminalreporter.ensure_newline()
        for command in published.commands:
            terminalreporter.write_line(command)
    drift = guard.drift_result if guard is not None else None
    if drift is not None:
        from pytest_llmguard.drift.render import render_terminal as render_drift

        terminalreporter.write_line("")
        for line in render_drift(drift):
            terminalreporter.write_line(line, red=drift.failed and line.startswith("llmguard"))
