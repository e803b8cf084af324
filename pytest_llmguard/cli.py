"""The ``llmguard`` command: sim, report, diff, init, sample."""

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


def _cmd_init(args: argparse.Namespace) -> int:
    from pytest_llmguard.scaffold import scaffold

    for path in scaffold(Path(args.directory), force=args.force):
        print(f"created {path}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from pytest_llmguard.sources.command import run

    return run(args)


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
    init = sub.add_parser("init", help="scaffold llmguard.yaml, a golden set and CI workflows")
    init.add_argument("directory", nargs="?", default=".")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    sample = sub.add_parser(
        "sample", help="sample production logs into a golden set (redacted, for review)"
    )
    from pytest_llmguard.sources.command import add_arguments

    add_arguments(sample)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sim":
        return _cmd_sim(argv[1:])
    args = build_parser().parse_args(argv)
    handlers = {"report": _cmd_report, "diff": _cmd_diff, "init": _cmd_init, "sample": _cmd_sample}
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
