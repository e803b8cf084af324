"""The ``llmguard`` command: sim, report, diff, init, comment, merge, sample, drift,
history."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard import __version__
from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.exceptions import LLMGuardError

if TYPE_CHECKING:
    from pytest_llmguard.outcome import Outcome


def _cmd_sim(argv: Sequence[str]) -> int:
    from pytest_llmguard.sim.command import main as sim_main

    return sim_main(list(argv))


def _cmd_report(args: argparse.Namespace) -> int:
    """Re-render a saved JSON report for the terminal, as Markdown or as HTML."""
    from pytest_llmguard.store import load_run, outcome_of

    outcome = outcome_of(load_run(args.run, allow_partial=True))
    if args.html:
        from pytest_llmguard.report.html import render_html

        write_atomic(args.html, render_html(outcome))
        print(f"wrote {args.html}")
        if args.markdown is None:
            return 0
    _show(outcome, args.markdown)
    return 0


def _show(outcome: Outcome, markdown: str | None) -> None:
    """The terminal summary, or Markdown to ``markdown`` (``-``: standard output)."""
    if markdown is None:
        from pytest_llmguard.report.terminal import render_terminal

        print("\n".join(render_terminal(outcome)))
        return
    from pytest_llmguard.report.markdown import render_markdown

    text = render_markdown(outcome)
    if markdown == "-":
        sys.stdout.write(text)
    else:
        write_atomic(markdown, text)
        print(f"wrote {markdown}")


def _cmd_diff(args: argparse.Namespace) -> int:
    """Compare two saved runs with the configured budgets; exit 1 on a failing verdict."""
    from pytest_llmguard.run_diff import diff_runs

    outcome = diff_runs(args.run_a, args.run_b, config_path=args.config, rootdir=".")
    _show(outcome, args.markdown)
    return 1 if outcome.verdict == "fail" else 0


def _cmd_comment(args: argparse.Namespace) -> int:
    """Post (or update) the sticky PR comment from a saved run; 1 only if --strict and it failed."""
    from pytest_llmguard.publish import PublishRequest, publish
    from pytest_llmguard.store import load_run, outcome_of

    outcome = outcome_of(load_run(args.run, allow_partial=True))
    request = PublishRequest(
        comment=True,
        strict=args.strict,
        report_url=args.report_url,
        repository=args.repo,
        number=args.pr,
        api_url=args.api_url,
        summary=False,  # the pytest run wrote it; only a failure to post is added there
        annotate=False,
    )
    done = publish(outcome, request, os.environ)
    for line in done.lines:
        print(line)
    return 1 if done.failed else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    """Join saved shards, judge the whole run once; exit 1 on a failing verdict."""
    from pytest_llmguard.report import render_json
    from pytest_llmguard.report.terminal import render_terminal
    from pytest_llmguard.shards import merge_shards

    outcome = merge_shards(args.runs, config_path=args.config, rootdir=".", baseline=args.baseline)
    write_atomic(args.output, render_json(outcome) + "\n", durable=True)
    print("\n".join(render_terminal(outcome)))
    print(f"wrote {args.output}")
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


def _cmd_purge(args: argparse.Namespace) -> int:
    from pytest_llmguard.privacy.command import run_purge

    return run_purge(args)


def _cmd_init(args: argparse.Namespace) -> int:
    from pytest_llmguard.scaffold import scaffold

    written, kept = scaffold(Path(args.directory), force=args.force)
    for path in written:
        print(f"{'updated' if path.name == '.gitignore' else 'created'} {path}")
    for path in kept:
        print(f"kept {path} (it exists; --force overwrites it)")
    if written and not kept:
        print("next: pytest --llmguard   (replays golden_sets/ against the simulator)")
    return 0


# The same form for `report` and `diff`: --markdown PATH, or --markdown / --markdown - for stdout.
MARKDOWN: dict[str, Any] = {
    "nargs": "?",
    "const": "-",
    "metavar": "PATH",
    "help": "Markdown (a PR comment body) instead of the terminal summary: written to PATH, "
    "or to standard output with - or no value",
}


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
    report.add_argument("--markdown", **MARKDOWN)
    report.add_argument(
        "--html",
        metavar="PATH",
        help="write the self-contained HTML report here instead of printing",
    )
    diff = sub.add_parser("diff", help="compare two saved runs against the configured budgets")
    diff.add_argument("run_a", help="baseline run (JSON)")
    diff.add_argument("run_b", help="candidate run (JSON)")
    diff.add_argument("--config", metavar="PATH", help="config with budgets (default: discovery)")
    diff.add_argument("--markdown", **MARKDOWN)
    comment = sub.add_parser(
        "comment", help="post or update the sticky PR comment from a saved run (JSON report)"
    )
    comment.add_argument("run", help="a JSON report (--llmguard-report-json, --llmguard-save)")
    comment.add_argument("--repo", metavar="OWNER/NAME", help="default: $GITHUB_REPOSITORY")
    comment.add_argument(
        "--pr", type=int, metavar="N", help="default: the pull request of $GITHUB_EVENT_PATH"
    )
    comment.add_argument("--api-url", metavar="URL", help="default: $GITHUB_API_URL")
    comment.add_argument("--report-url", metavar="URL", help="link to the HTML report")
    comment.add_argument(
        "--strict", action="store_true", help="exit 1 when the comment cannot be posted"
    )
    merge = sub.add_parser(
        "merge", help="join saved shards (--llmguard-shard) and judge them as one run"
    )
    merge.add_argument("runs", nargs="+", metavar="RUN", help="the shards' saved runs (JSON)")
    merge.add_argument("-o", "--output", required=True, metavar="PATH", help="merged run (JSON)")
    merge.add_argument("--config", metavar="PATH", help="config with budgets (default: discovery)")
    merge.add_argument(
        "--baseline", metavar="PATH|latest|ID", help="default: the baseline the shards named"
    )
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
    sample = sub.add_parser(
        "sample", help="sample production logs into a golden set (redacted, for review)"
    )
    from pytest_llmguard.sources.command import add_arguments

    add_arguments(sample)
    purge = sub.add_parser(
        "purge", help="remove stored prompts and outputs: by age, or every trace of a text"
    )
    from pytest_llmguard.privacy.command import add_arguments as purge_arguments

    purge_arguments(purge)
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
        "comment": _cmd_comment,
        "merge": _cmd_merge,
        "sample": _cmd_sample,
        "drift": _cmd_drift,
        "history": _cmd_history,
        "purge": _cmd_purge,
    }
    try:
        return handlers[args.command](args)
    except (LLMGuardError, OSError, json.JSONDecodeError) as exc:
        # a bad file is exit 4, never 1: 1 is what a failed gate returns
        print(f"llmguard: error: {_safe(str(exc))}", file=sys.stderr)
        return 4
    except Exception:  # a bug: its traceback, and an exit code no gate verdict uses
        traceback.print_exc()
        print("llmguard: internal error (please report it with the traceback)", file=sys.stderr)
        return 3


def _safe(text: str) -> str:
    from pytest_llmguard.report.escape import safe_block  # file contents may be crafted

    return safe_block(text, 2000)


if __name__ == "__main__":
    raise SystemExit(main())
