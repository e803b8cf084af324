"""The ``--llmguard-*`` options and their ini twins: declared once, parsed where declared.

Every option has an ini twin whose value goes through the same parser as the flag, so
``llmguard_repeat = abc`` is the same clear usage error as ``--llmguard-repeat abc``.
Nothing heavy is imported here: the plugin must cost nothing without ``--llmguard``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_llmguard.config.records import CACHE_MODES
from pytest_llmguard.exceptions import ConfigError

MAX_REPEAT = 100  # as the config schema's run.repeat
MAX_SAMPLE = 100_000  # as the config schema's logs.sample.n
SAVE_TO_STORE = "@store"  # --llmguard-save without a path: into the run store


def _whole_number(low: int, high: int | None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{value!r} must be {low} or more")
        if high is not None and number > high:
            raise argparse.ArgumentTypeError(f"{value!r} must be at most {high}")
        return number

    return parse


def _cache_mode(value: str) -> str:
    if value not in CACHE_MODES:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a cache mode; valid: {', '.join(CACHE_MODES)}"
        )
    return value


def _shard(value: str) -> tuple[int, int]:
    """``I/N``: the I-th of N shards, counted from 1."""
    index, _, count = str(value).strip().partition("/")
    if not (index.isdigit() and count.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not I/N (e.g. 2/4)")
    if not 1 <= int(index) <= int(count):
        raise argparse.ArgumentTypeError(f"{value!r}: I must be between 1 and N")
    return int(index), int(count)


def _text(value: str) -> str:
    if not str(value).strip():
        raise argparse.ArgumentTypeError("an empty value is not allowed")
    return str(value)


@dataclass(frozen=True)
class Option:
    """One ``--llmguard-SUFFIX`` option and its ini twin ``llmguard_SUFFIX``."""

    suffix: str
    help: str
    metavar: str
    parse: Callable[[str], Any] = _text
    repeatable: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)
    switch: bool = False  # takes no value; its ini twin is a bool

    @property
    def dest(self) -> str:
        return "llmguard_" + self.suffix.replace("-", "_")

    @property
    def flag(self) -> str:
        return f"--llmguard-{self.suffix}"


OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        "config file (default: llmguard.yaml, then pyproject.toml [tool.llmguard])",
        "PATH",
    ),
    Option(
        "target",
        "run only target NAME, or swap its model with NAME=MODEL; repeatable "
        "(default: all targets)",
        "NAME[=MODEL]",
        repeatable=True,
    ),
    Option(
        "baseline",
        "compare against a saved run: a JSON report's PATH, or from the run store 'latest', "
        "a run id or a commit (default: compare.baseline)",
        "PATH|latest|ID",
    ),
    Option(
        "save",
        "save this run (every observation): into the run store (history.dir) without a "
        "value, or to PATH (default: not saved)",
        "PATH",
        kwargs={"nargs": "?", "const": SAVE_TO_STORE},
    ),
    Option(
        "cache",
        "cache mode: off | replay | record | refresh (default: cache.mode from config, else off)",
        "MODE",
        parse=_cache_mode,
    ),
    Option("report-json", "write the JSON report here (default: report.json from config)", "PATH"),
    Option(
        "report-md",
        "write the Markdown report (PR comment body) here (default: report.markdown from config)",
        "PATH",
    ),
    Option(
        "report-html",
        "write the self-contained HTML report (charts, case table) here "
        "(default: report.html from config)",
        "PATH",
    ),
    Option(
        "comment",
        "post the Markdown report as the pull request's sticky comment, updated in place "
        "(GitHub Actions; a failure is reported, not fatal) (default: off)",
        "",
        switch=True,
    ),
    Option(
        "comment-strict",
        "with --llmguard-comment: fail the run when the comment cannot be posted (default: off)",
        "",
        switch=True,
    ),
    Option(
        "report-url",
        "link the HTML report from the PR comment and step summary (default: $LLMGUARD_REPORT_URL)",
        "URL",
    ),
    Option(
        "shard",
        "run shard I of N: a deterministic share of the cases (all targets and repeats of a "
        "case together); join the saved shards with `llmguard merge` (default: all cases)",
        "I/N",
        parse=_shard,
    ),
    Option(
        "repeat",
        f"call every case N times, 1 to {MAX_REPEAT} (default: run.repeat, 1)",
        "N",
        parse=_whole_number(1, MAX_REPEAT),
    ),
    Option(
        "concurrency",
        "calls in flight at once per process (default: run.concurrency, 16)",
        "N",
        parse=_whole_number(1, None),
    ),
    Option(
        "logs",
        "replay a sample of these production logs (a file or glob, format detected; "
        "repeatable) instead of logs.sources (default: logs.sources from config)",
        "GLOB",
        repeatable=True,
    ),
    Option(
        "sample",
        f"how many log records to replay, 1 to {MAX_SAMPLE} (default: logs.sample.n, 200)",
        "N",
        parse=_whole_number(1, MAX_SAMPLE),
    ),
    Option(
        "drift",
        "nightly drift check: judge this run against the stored nights (drift.history), "
        "store it, alert; exit code 1 on drift (default: off)",
        "",
        switch=True,
    ),
)
BY_SUFFIX = {o.suffix: o for o in OPTIONS}


def add_options(parser: pytest.Parser) -> None:
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
    for option in OPTIONS:
        if option.switch:
            group.addoption(
                option.flag,
                dest=option.dest,
                action="store_true",
                default=None,
                help=option.help,
            )
            parser.addini(option.dest, f"ini twin of {option.flag}", type="bool", default=None)
            continue
        kwargs: dict[str, Any] = {"metavar": option.metavar, "type": option.parse}
        if option.repeatable:
            kwargs["action"] = "append"
        kwargs.update(option.kwargs)
        if kwargs.get("action") == "store_true":  # a flag takes no value
            del kwargs["metavar"], kwargs["type"]
        group.addoption(option.flag, dest=option.dest, default=None, help=option.help, **kwargs)
        parser.addini(option.dest, f"ini twin of {option.flag}", type="string", default=None)


def get_option(config: pytest.Config, suffix: str) -> Any:
    """The flag's value, else its ini twin's (parsed by the same parser), else None."""
    option = BY_SUFFIX[suffix]
    value = config.getoption(option.dest)
    if value is not None:
        return value
    raw = config.getini(option.dest)
    if option.switch:
        return bool(raw)
    if not raw:
        return None
    try:
        parsed = option.parse(str(raw))
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"ini option {option.dest} = {raw!r}: {exc}") from None
    return [parsed] if option.repeatable else parsed


def option_labels(config: pytest.Config) -> dict[str, str]:
    """How the user set each option, for error messages: the flag, or the ini key."""
    labels = {}
    for option in OPTIONS:
        if config.getoption(option.dest) is None and config.getini(option.dest):
            labels[option.suffix] = f"ini option {option.dest}"
        else:
            labels[option.suffix] = option.flag
    return labels


def enabled(config: pytest.Config) -> bool:
    flag = config.getoption("llmguard")
    return bool(flag) if flag is not None else bool(config.getini("llmguard"))
