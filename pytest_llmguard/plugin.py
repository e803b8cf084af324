"""pytest hooks, options and collection: thin translations onto one GuardSession.

Flow: configure (load config + golden sets, one UsageError if bad) → collect one item per
case × target → before the first item runs, make this process's calls concurrently →
items assert on their results → workers ship results, the controller judges and reports
→ the gate sets the exit status in ``pytest_sessionfinish``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmguard.exceptions import EngineError, UsageError
from pytest_llmguard.handover import Worker
from pytest_llmguard.report.terminal import render_terminal, safe_text

# The engine (numpy, aiohttp, rapidfuzz) is imported only when --llmguard is on:
# without it the plugin must cost nothing.
if TYPE_CHECKING:
    from pytest_llmguard.budgets import Budget
    from pytest_llmguard.golden import GoldenSet
    from pytest_llmguard.records import Case, ScoredObservation
    from pytest_llmguard.session import GuardSession, Outcome

SESSION_KEY: pytest.StashKey[GuardSession] = pytest.StashKey()
OUTCOME_KEY: pytest.StashKey[Outcome] = pytest.StashKey()
RUN_DIR_KEY = pytest.StashKey[str]()
DECLINED_KEY = pytest.StashKey[str]()
RUN_DIR_INPUT = "llmguard_run_dir"
WORKER_OUTPUT = "llmguard"


# ---- options ------------------------------------------------------------------------------


def _positive_int(value: str) -> int:
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be 1 or more")
    return number


def _cache_mode(value: str) -> str:
    import argparse

    from pytest_llmguard.config import CACHE_MODES

    if value not in CACHE_MODES:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a cache mode; valid: {', '.join(CACHE_MODES)}"
        )
    return value


# (option suffix, ini name, help, argparse kwargs)
_OPTIONS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    (
        "config",
        "llmguard_config",
        "config file (default: llmguard.yaml, then pyproject.toml [tool.llmguard])",
        {"metavar": "PATH"},
    ),
    (
        "target",
        "llmguard_target",
        "run only target NAME, or swap its model with NAME=MODEL; repeatable "
        "(default: all targets)",
        {"metavar": "NAME[=MODEL]", "action": "append"},
    ),
    (
        "baseline",
        "llmguard_baseline",
        "compare against a saved run (a JSON report) instead of compare.baseline (default: none)",
        {"metavar": "PATH"},
    ),
    (
        "save",
        "llmguard_save",
        "save this run (every observation) as a baseline for later runs (default: none)",
        {"metavar": "PATH"},
    ),
    (
        "cache",
        "llmguard_cache",
        # the modes of config.CACHE_MODES (not imported here: it pulls in jsonschema)
        "cache mode: off | replay | record | refresh (default: cache.mode from config, else off)",
        {"metavar": "MODE", "type": _cache_mode},
    ),
    (
        "report-json",
        "llmguard_report_json",
        "write the JSON report here (default: report.json from config)",
        {"metavar": "PATH"},
    ),
    (
        "report-md",
        "llmguard_report_md",
        "write the Markdown report (PR comment body) here (default: report.markdown from config)",
        {"metavar": "PATH"},
    ),
    (
        "repeat",
        "llmguard_repeat",
        "call every case N times (default: run.repeat, 1)",
        {"metavar": "N", "type": _positive_int},
    ),
    (
        "concurrency",
        "llmguard_concurrency",
        "calls in flight at once per process (default: run.concurrency, 16)",
        {"metavar": "N", "type": _positive_int},
    ),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmguard", "LLM regression gate (pytest-llmguard)")
    group.addoption(
        "--llmguard",
        action="store_true",
        default=None,
        help="replay the golden sets against the configured targets and gate on budgets "
        "(default: off)",
    )
    parser.addini(
        "llmguard", "enable pytest-llmguard as if --llmguard were given", type="bool", default=False
    )
    group.addoption(
        "--llmguard-only",
        action="store_true",
        default=False,
        help="with --llmguard: run only golden-set items, deselect other tests (default: off)",
    )
    for suffix, ini, help_text, kwargs in _OPTIONS:
        dest = "llmguard_" + suffix.replace("-", "_")
        group.addoption(f"--llmguard-{suffix}", dest=dest, default=None, help=help_text, **kwargs)
        parser.addini(ini, f"ini twin of --llmguard-{suffix}", type="string", default=None)


def _option(config: pytest.Config, suffix: str) -> Any:
    dest = "llmguard_" + suffix.replace("-", "_")
    value = config.getoption(dest)
    if value is None:
        ini = config.getini(dest)
        value = ini or None
        if value is not None and suffix in ("repeat", "concurrency"):
            value = int(value)
        if value is not None and suffix == "target":
            value = [value]
    return value


def _enabled(config: pytest.Config) -> bool:
    flag = config.getoption("llmguard")
    return bool(flag) if flag is not None else bool(config.getini("llmguard"))


# ---- configure --------------------------------------------------------------------------


def _worker(config: pytest.Config) -> Worker | None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    return Worker(
        index=int(str(workerinput["workerid"]).lstrip("gw") or 0),
        count=int(workerinput.get("workercount", 1)),
        run_dir=workerinput.get(RUN_DIR_INPUT),
    )


def _is_controller(config: pytest.Config) -> bool:
    return _worker(config) is None and getattr(config.option, "dist", "no") != "no"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llmguard: a golden-set case replayed by pytest-llmguard")
    if not _enabled(config):
        return
    try:
        session = _create_session(config)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = session
    for tag in sorted({t for g in session.golden_sets for c in g.cases for t in c.tags}):
        config.addinivalue_line("markers", f"{tag}: golden-set tag")
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        _add_golden_set_args(config, session.golden_sets)
    if _is_controller(config) and _only_golden_sets(config, session.golden_sets):
        _decline_workers(config)
    if _is_controller(config):
        config.stash[RUN_DIR_KEY] = tempfile.mkdtemp(prefix="llmguard-run-")


def _create_session(config: pytest.Config) -> GuardSession:
    from pytest_llmguard.config import load_config
    from pytest_llmguard.golden import load_golden_sets
    from pytest_llmguard.session import GuardSession, Options

    cfg = load_config(str(config.rootpath), _option(config, "config"))
    if not cfg.targets:
        where = cfg.path or f"{config.rootpath}/llmguard.yaml"
        raise UsageError(
            "no targets configured",
            file=where,
            key_path="targets",
            hint="add a targets: section, or run `llmguard init` to scaffold llmguard.yaml",
        )
    golden_sets = load_golden_sets(cfg)
    options = Options(
        targets=tuple(_option(config, "target") or ()),
        baseline_path=_option(config, "baseline"),
        save_path=_option(config, "save"),
        cache_mode=_option(config, "cache"),
        report_json=_option(config, "report-json"),
        report_markdown=_option(config, "report-md"),
        repeat=_option(config, "repeat"),
        concurrency=_option(config, "concurrency"),
    )
    return GuardSession(cfg, golden_sets, options, worker=_worker(config))


def _add_golden_set_args(config: pytest.Config, golden_sets: tuple[GoldenSet, ...]) -> None:
    """Without explicit paths, `pytest --llmguard` also collects the configured golden sets."""
    roots = [Path(a.split("::")[0]).resolve() for a in config.args]
    for golden in golden_sets:
        path = (config.rootpath / golden.path).resolve()
        if not any(path == r or r in path.parents for r in roots):
            config.args.append(str(path))


def _only_golden_sets(config: pytest.Config, golden_sets: tuple[GoldenSet, ...]) -> bool:
    """Whether this run can select nothing but golden-set items (and so needs no workers).

    True with ``--llmguard-only``, or when every path given is a golden-set file (or a
    node in one) or a directory without any Python file, which pytest could collect.
    """
    if config.getoption("llmguard_only"):
        return True
    files = {(config.rootpath / g.path).resolve() for g in golden_sets}
    here = config.invocation_params.dir
    for arg in config.args:
        path = (here / arg.split("::")[0]).resolve()
        if path in files:
            continue
        if not path.is_dir() or _holds_python(path):
            return False
    return True


def _holds_python(directory: Path) -> bool:
    for _root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        if any(name.endswith(".py") for name in names):
            return True
    return False


def _decline_workers(config: pytest.Config) -> None:
    """Run in this process instead of xdist workers (before xdist's own configure runs).

    Golden-set calls are network-bound and already concurrent in one asyncio loop; workers
    would only add start-up and a round trip per item (on 2 cores, 2,000 trivial tests
    take 2.3 x as long under ``-n 2``). Workers still run when ordinary tests are selected.
    """
    workers = len(config.getoption("tx") or ())
    config.option.dist = "no"
    config.option.tx = []
    config.option.numprocesses = 0
    config.stash[DECLINED_KEY] = (
        f"llmguard: -n {workers} not used: only golden-set items are selected, and their "
        "calls run concurrently in this process"
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    return config.stash.get(DECLINED_KEY, None)


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


class CaseFailure(Exception):
    """A case failed its checks or its call failed; the message is the whole report."""


class CaseItem(pytest.Item):
    """One case × target: `golden_sets/support.yaml::refund-window[candidate]`."""

    case: Case
    target: str

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        try:
            results = session.results_for(self.case.key, self.target)
        except (TimeoutError, EngineError) as exc:
            raise CaseFailure(str(exc)) from None
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
        if failed:
            raise CaseFailure(_failure_text(self.case, failed, len(results)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line - 1 if self.case.line else None
        return self.path, line, f"{self.case.set_name}::{self.case.id}[{self.target}]"


def _failure_text(case: Case, failed: list[ScoredObservation], total: int) -> str:
    lines = []
    for s in failed:
        o = s.observation
        head = f"repeat {o.repeat_index + 1}/{total}: " if total > 1 else ""
        if o.error is not None:
            status = f" (HTTP {o.error.status})" if o.error.status else ""
            lines.append(
                f"{head}call failed after {o.attempts} attempt(s): {o.error.cls}{status}: "
                f"{safe_text(o.error.message)}"
            )
            continue
        bad = [c for c in s.checks if not c.passed]
        lines.append(f"{head}{len(bad)} of {len(s.checks)} checks failed")
        lines.extend(f"  ✗ {safe_text(c.detail)}" for c in bad)  # details name their check
        latency = f"{o.latency_ms:.0f} ms" if o.latency_ms is not None else "? ms"
        lines.append(f"  output ({o.model}, {latency}, {o.output_tokens} tokens):")
        lines.append("    " + safe_text(o.output or "", 600).replace("\n", "\n    "))
        if case.expected is not None:
            lines.append("  expected:")
            lines.append("    " + safe_text(case.expected, 600).replace("\n", "\n    "))
    return "\n".join(lines)


class GoldenSetFile(pytest.File):
    """A golden set file: yields one item per case × target."""

    golden: GoldenSet

    def collect(self) -> Iterator[CaseItem]:
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


class BudgetFile(pytest.File):
    """The config file, as the parent of one item per budget: `llmguard.yaml::budget[...]`."""

    def collect(self) -> Iterator[pytest.Item]:
        return iter(())


class BudgetItem(pytest.Item):
    """One budget's verdict as a test result, so JUnit XML and CI UIs show the gate.

    It runs after every case was called (the calls happen before the first item) and
    judges the whole run, waiting for the other xdist workers' results if needed.
    """

    budget: Budget

    def runtest(self) -> None:
        session = self.config.stash[SESSION_KEY]
        try:
            judgement = session.judgement_of_whole_run()
        except TimeoutError as exc:
            raise CaseFailure(str(exc)) from None
        mine = [c for c in judgement.comparisons if c.budget == self.budget]
        if not mine:
            pytest.skip("not judged: " + ("; ".join(judgement.notes) or "no data for this budget"))
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

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"budget {self.name}"


class BudgetWarning(UserWarning):
    """A budget whose point estimate is beyond its limit but whose interval is not (warn)."""


def _budget_items(session: pytest.Session, guard: GuardSession) -> list[pytest.Item]:
    if not guard.budgets or guard.config.path is None:
        return []
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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Add the budget items (before -k/-m deselect), and apply --llmguard-only."""
    guard = config.stash.get(SESSION_KEY, None)
    if guard is None:
        return
    if any(isinstance(i, CaseItem) for i in items):
        items.extend(_budget_items(session, guard))
    if config.getoption("llmguard_only"):
        dropped = [i for i in items if not isinstance(i, (CaseItem, BudgetItem))]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if isinstance(i, (CaseItem, BudgetItem))]


# ---- running ------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first item runs, make this process's share of the calls concurrently."""
    guard = session.config.stash.get(SESSION_KEY, None)
    if guard is None or _is_controller(session.config) or session.config.option.collectonly:
        return
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        return
    selected = [(i.case, i.target) for i in session.items if isinstance(i, CaseItem)]
    units = guard.plan(selected)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or _worker(session.config) is not None or not units:
        if not guard.start_calls(units):
            guard.call(units)
        return
    what = f"llmguard: {len(units)} calls to {len(guard.targets)} target(s)"
    if guard.start_calls(units):
        # A forked child makes the calls; items take each result as it arrives.
        reporter.write_line(what + ", made while the items run...")
        return
    reporter.write_line(what + "...")
    guard.call(units)
    reporter.write_line(f"llmguard: calls done in {guard.call_seconds:.2f} s")


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
        outcome = guard.finish(partial=partial)
    except UsageError as exc:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ERROR: {exc}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    config.stash[OUTCOME_KEY] = outcome
    if outcome.verdict == "fail" and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcome = config.stash.get(OUTCOME_KEY, None)
    if outcome is None:
        return
    terminalreporter.section("llmguard")
    guard = config.stash.get(SESSION_KEY, None)
    if guard is not None and guard.forked_calls:
        terminalreporter.write_line(
            f"llmguard: calls done in {guard.call_seconds:.2f} s (while the items ran)"
        )
    for line in render_terminal(outcome):
        red = line.startswith("llmguard verdict: FAIL")
        terminalreporter.write_line(line, red=red, bold=line.startswith("llmguard verdict"))
