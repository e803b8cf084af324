"""The ``llmguard`` command: sim, report, diff, init, drift, history."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_llmguard import __version__
from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.exceptions import LLMGuardError


def _cmd_sim(argv: Sequence[str]) -> int:
    from pytest_llmguard.sim.command import main as sim_main

    return sim_main(list(argv))


def _cmd_report(args: argparse.Namespace) -> int:
    """Re-render a saved JSON report for the terminal or as Markdown."""
    from pytest_llmguard.store import load_run, outcome_of

    outcome = outcome_of(load_run(args.run, allow_partial=True))
    if args.markdown:
        from pytest_llmguard.report.markdown import render_markdown

        write_atomic(args.markdown, render_markdown(outcome))
        print(f"wrote {args.markdown}")
    else:
        from pytest_llmguard.report.terminal import render_terminal

        print("\n".join(render_terminal(outcome)))
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    """Compare two saved runs with the configured budgets; exit 1 on a failing verdict."""
    from pytest_llmguard.run_diff import diff_runs

    outcome = diff_runs(args.run_a, args.run_b, config_path=args.config, rootdir=".")
    if args.markdown:
        from pytest_llmguard.report.markdown import render_markdown

        print(render_markdown(outcome))
    else:
        from pytest_llmguard.report.terminal import render_terminal

        print("\n".join(render_terminal(outcome)))
    return 1 if outcome.verdict == "fail" else 0


def _cmd_drift(args: argparse.Namespace) -> int:
    """Replay the golden sets, judge the night against the history, store it, alert."""
    from pytest_llmguard.drift.command import run_drift

    return run_drift(
        config_path=args.config,
        rootdir=args.rootdir,
        targets=tuple(args.target or ()),
        alerts=not args.no_alerts,
        markdown=args.markdown,
        report_json=args.report_json,
    )


def _cmd_history(args: argparse.Namespace) -> int:
    """List the stored nights with their headline metrics and drift verdicts."""
    from pytest_llmguard.drift.command import list_history

    return list_history(
        config_path=args.config, rootdir=args.rootdir, limit=args.limit, as_json=args.json
    )


def _cmd_init(args: argparse.Namespace) -> int:
    from pytest_llmguard.scaffold import scaffold

    for path in scaffold(Path(args.directory), force=args.force):
        print(f"created {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmguard", description="LLM regression gate")
    parser.add_argument("--version", action="version", version=f"llmguard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("sim", help="run the built-in OpenAI-compatible simulator", add_help=False)
    report = sub.add_parser("report", help="render a saved run (JSON report)")
    report.add_argument(
        "run", help="a JSON report written by --llmguard-report-json or --llmguard-save"
    )
    report.add_argument(
        "--markdown", metavar="PATH", help="write Markdown here instead of printing"
    )
    diff = sub.add_parser("diff", help="compare two saved runs against the configured budgets")
    diff.add_argument("run_a", help="baseline run (JSON)")
    diff.add_argument("run_b", help="candidate run (JSON)")
    diff.add_argument("--config", metavar="PATH", help="config with budgets (default: discovery)")
    diff.add_argument("--markdown", action="store_true", help="print Markdown (a PR comment body)")
    drift = sub.add_parser(
        "drift", help="nightly drift check: replay, judge against the history, store, alert"
    )
    drift.add_argument("--config", metavar="PATH", help="config file (default: discovery)")
    drift.add_argument("--rootdir", default=".", help="project root (default: .)")
    drift.add_argument("--target", action="append", metavar="NAME[=MODEL]", help="repeatable")
    drift.add_argument("--no-alerts", action="store_true", help="judge and store, do not alert")
    drift.add_argument("--markdown", metavar="PATH", help="also write the result as Markdown")
    drift.add_argument("--report-json", metavar="PATH", help="write the JSON report here")
    history = sub.add_parser("history", help="list the stored nights and their verdicts")
    history.add_argument("--config", metavar="PATH", help="config file (default: discovery)")
    history.add_argument("--rootdir", default=".", help="project root (default: .)")
    history.add_argument("--limit", type=int, default=30, help="newest nights shown (30)")
    history.add_argument("--json", action="store_true", help="print JSON lines")
    init = sub.add_parser("init", help="scaffold llmguard.yaml, a golden set and CI workflows")
    init.add_argument("directory", nargs="?", default=".")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sim":
        return _cmd_sim(argv[1:])
    args = build_parser().parse_args(argv)
    handlers = {
        "report": _cmd_report,
        "diff": _cmd_diff,
        "init": _cmd_init,
        "drift": _cmd_drift,
        "history": _cmd_history,
    }
    try:
        return handlers[args.command](args)
    except LLMGuardError as exc:
        print(f"llmguard: error: {exc}", file=sys.stderr)
        return 4
    except (OSError, json.JSONDecodeError) as exc:
        print(f"llmguard: error: {exc}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    raise SystemExit(main())
