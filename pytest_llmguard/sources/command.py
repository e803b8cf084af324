"""``llmguard sample``: draw a sample of production logs and write it as a golden set.

    llmguard sample --from "logs/*.jsonl" -n 200 --by model --since 7d -o golden_sets/prod.yaml

The ``logs:`` section of the config (found as pytest finds it, or ``--config``) gives the
defaults (feedback rules, ``redact`` kinds, checks, field paths, sampling); the flags
override them. The written set is redacted, valid against the golden-set schema, and
its case ids are stable: sampling the same records again gives the same ids.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import replace
from datetime import datetime, timezone

from pytest_llmguard.config import Config, LogSourceConfig
from pytest_llmguard.exceptions import LogSourceError
from pytest_llmguard.sources.golden_file import write_golden_set
from pytest_llmguard.sources.loading import load_log_cases

__all__ = ["add_arguments", "run"]

_NOT_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="sources",
        metavar="GLOB",
        action="append",
        help="log files (a path or glob, gzip accepted; repeatable; default: logs.sources)",
    )
    parser.add_argument(
        "--format",
        default="auto",
        choices=("auto", "openai-jsonl", "otel", "openinference", "langfuse", "litellm"),
        help="format of the --from files (default: auto, detected per file)",
    )
    parser.add_argument("-n", type=int, metavar="N", help="records to sample (default: 200)")
    parser.add_argument(
        "--by",
        action="append",
        metavar="FIELD",
        help="stratify by a field: model, provider, route, tag, prompt_name, prompt_version, "
        "prompt, feedback, error, source (repeatable or comma-separated)",
    )
    parser.add_argument("--min-per-stratum", type=int, metavar="K")
    parser.add_argument("--since", help="only records since: 7d, 12h, 2025-05-01...")
    parser.add_argument("--until", help="only records until (same forms)")
    parser.add_argument("--seed", type=int, help="sampling seed (default: 0)")
    parser.add_argument(
        "--dedupe",
        metavar="SIMILARITY",
        help="drop prompts this similar to one already sampled, 0..1, or 'off' (default 0.95)",
    )
    parser.add_argument("--strict", action="store_true", help="a bad record is an error")
    parser.add_argument("--config", metavar="PATH", help="config file (default: discovery)")
    parser.add_argument("--name", help="the golden set's name (default: the output's stem)")
    parser.add_argument("-o", "--output", required=True, metavar="PATH", help="YAML to write")


def _config(args: argparse.Namespace) -> Config:
    from pytest_llmguard.config import load_config

    config = load_config(os.getcwd(), args.config)
    logs = config.logs
    if args.sources:
        sources = tuple(LogSourceConfig(path=p, format=args.format) for p in args.sources)
        logs = replace(logs, sources=sources)
    if not logs.sources:
        raise LogSourceError("no logs to sample: pass --from GLOB (or set logs.sources)")
    sample = logs.sample
    by = [f.strip() for item in args.by or () for f in item.split(",") if f.strip()]
    changes = {
        "n": args.n,
        "by": tuple(by) if by else None,
        "min_per_stratum": args.min_per_stratum,
        "since": args.since,
        "until": args.until,
        "seed": args.seed,
    }
    sample = replace(sample, **{k: v for k, v in changes.items() if v is not None})
    if args.dedupe is not None:
        off = args.dedupe.strip().lower() in ("off", "false", "no")
        try:
            sample = replace(sample, dedupe=None if off else float(args.dedupe))
        except ValueError:
            raise LogSourceError(
                f"--dedupe {args.dedupe}: expected a similarity between 0 and 1, or off"
            ) from None
    logs = replace(logs, sample=sample, strict=logs.strict or args.strict)
    return replace(config, logs=logs)


def _check(config: Config) -> None:
    """The flags get the checks the config file's values get."""
    from pytest_llmguard.config.logs import DOCS
    from pytest_llmguard.config.records import STRATA_FIELDS
    from pytest_llmguard.sources.window import check_bound

    sample = config.logs.sample
    for field in sample.by:
        if field not in STRATA_FIELDS:
            raise LogSourceError(
                f"--by {field}: not a field; fields: {', '.join(STRATA_FIELDS)}", docs=DOCS
            )
    for flag, value in (("--since", sample.since), ("--until", sample.until)):
        problem = check_bound(value) if value else None
        if problem:
            raise LogSourceError(f"{flag}: {problem}", docs=DOCS)
    if sample.n < 1 or (sample.dedupe is not None and not 0 <= sample.dedupe <= 1):
        raise LogSourceError("-n must be 1 or more and --dedupe between 0 and 1", docs=DOCS)


def run(args: argparse.Namespace) -> int:
    """Sample, write the golden set, say what was read and drawn."""
    config = _config(args)
    _check(config)
    now = time.time()
    cases = load_log_cases(config, now=now)
    drawn = [c for s in cases.sets for c in s.cases]
    if not drawn:
        raise LogSourceError(
            "no usable record to sample: " + "; ".join(cases.read.lines()),
            docs="replaying-production-logs",
        )
    stem = os.path.splitext(os.path.basename(args.output))[0]
    name = args.name or (_NOT_NAME.sub("_", stem).strip("._") or "production")
    sample = config.logs.sample
    when = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    froms = ", ".join(s.path for s in config.logs.sources)
    header = [
        f"Sampled by `llmguard sample` on {when} from {froms}:",
        f"{len(drawn)} of {cases.sample.seen:,} usable record(s), seed {sample.seed}"
        + (f", by {', '.join(sample.by)}" if sample.by else "")
        + (f", since {sample.since}" if sample.since else "")
        + (f", until {sample.until}" if sample.until else "")
        + ".",
        "PII is redacted. `expected` is the logged response: review it before committing.",
        "",
    ]
    write_golden_set(args.output, drawn, name=name, header=header)
    print(f"wrote {args.output}: {len(drawn)} case(s) in golden set '{name}'")
    for line in cases.sample.lines()[1:] + cases.read.lines():
        print(f"  {line.strip()}")
    return 0
