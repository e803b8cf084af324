"""``llmguard purge``: retention on demand and erasure on request, counts per store only."""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="config file (default: discovery)")
    parser.add_argument("--rootdir", default=".", help="project root (default: .)")
    parser.add_argument(
        "--older-than",
        metavar="AGE",
        help="remove cache entries and stored runs older than AGE (30d, 12h, 2w)",
    )
    parser.add_argument(
        "--containing",
        metavar="TEXT",
        help="erase every cache entry, saved-run case and history record holding TEXT "
        "(case-insensitive); never printed",
    )


def run_purge(args: argparse.Namespace) -> int:
    """Exit 0 after purging; 2 when neither --older-than nor --containing is given."""
    from pytest_llmguard.config import load_config
    from pytest_llmguard.privacy.retention import parse_age, purge

    if not args.older_than and not args.containing:
        print("llmguard purge: give --older-than AGE and/or --containing TEXT")
        return 2
    try:
        older = parse_age(args.older_than) if args.older_than else None
    except ValueError as exc:
        print(f"llmguard purge: {exc}")
        return 2
    config = load_config(args.rootdir, args.config)
    report = purge(config, older_than_s=older, containing=args.containing, now=time.time())
    for line in report.lines():
        print(line)
    return 0
