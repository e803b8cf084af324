"""Sampled log records as cases, and as golden sets: redacted, with stable ids.

- The logged response becomes the case's ``expected``; the record's request parameters
  its ``params``; ``logs.checks`` its checks (a ``similarity`` check only where there
  is a logged response); ``logs`` its tag (``-m logs``); the record's place its
  ``provenance``.
- PII is redacted (``privacy.redactor``: the kinds and patterns of ``redact:``, default every kind)
  from every message and the response here, before anything is written or sent:
  a log case is replayed as ``[REDACTED:email]``, never with the customer's address.
- A case id is a slug of the (redacted) question and a hash of the record's identity
  (``refund-window-policy-3f9a2c1b0e``): the same record sampled again keeps its id,
  whatever file it was in.
- Each log file with sampled records is one pseudo golden set, named after the file
  (``app`` for ``logs/app.jsonl.gz``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from pytest_llmguard.golden import GoldenSet
from pytest_llmguard.metrics.pii import PII_KINDS
from pytest_llmguard.privacy.redactor import Redactor
from pytest_llmguard.records import Case, Check, Message
from pytest_llmguard.sources.record import LogRecord
from pytest_llmguard.sources.window import iso_utc

__all__ = ["LOG_TAG", "case_id", "log_sets", "to_case"]

LOG_TAG = "logs"  # every log case carries it: -m logs, budgets.by_tag.logs
_SLUG_WORDS = 6
_SLUG_CHARS = 48
_WORD = re.compile(r"[a-z0-9]+")
_NOT_NAME = re.compile(r"[\s/\\\[\]\x00-\x1f\x7f-\x9f]+|::|\.\.")


def case_id(record: LogRecord, redacted_question: str) -> str:
    """``<slug of the question>-<10 hex digits of the record's identity>``."""
    words = _WORD.findall(redacted_question.lower().replace("redacted", " "))
    slug = "-".join(words[:_SLUG_WORDS])[:_SLUG_CHARS].strip("-") or "record"
    digest = hashlib.blake2b(record.identity.encode(), digest_size=5).hexdigest()
    return f"{slug}-{digest}"


def to_case(
    record: LogRecord,
    set_name: str,
    *,
    redactor: Redactor | None = None,
    checks: Sequence[Mapping[str, Any]] = (),
) -> Case:
    """The case replaying ``record`` (redacted by ``redactor``, default every PII kind)."""
    scrub = redactor or Redactor(PII_KINDS)
    messages = tuple(Message(m.role, scrub.text(m.content)) for m in record.messages)
    expected = scrub.optional(record.response)
    users = [m.content for m in messages if m.role == "user"]
    question = users[-1] if users else (messages[-1].content if messages else "")
    kept = [
        Check(kind, arg)
        for check in checks
        for kind, arg in check.items()
        if expected is not None or kind != "similarity"
    ]
    provenance = record.provenance
    if provenance.timestamp is None and record.started_at is not None:
        provenance = replace(provenance, timestamp=iso_utc(record.started_at))
    return Case(
        set_name=set_name,
        set_path=provenance.file,
        id=case_id(record, question),
        messages=messages,
        params=dict(record.params),
        expected=expected,
        checks=tuple(kept),
        tags=(LOG_TAG,),
        line=provenance.line,
        provenance=provenance,
    )


def log_sets(
    records: Iterable[LogRecord],
    *,
    taken_names: Iterable[str] = (),
    redactor: Redactor | None = None,
    checks: Sequence[Mapping[str, Any]] = (),
) -> tuple[tuple[GoldenSet, ...], dict[str, LogRecord]]:
    """One pseudo golden set per log file, and the record behind each case key.

    Set names are the files' names (``app`` for ``logs/app.jsonl``), made unique against
    ``taken_names`` (the golden sets') and each other.
    """
    by_file: dict[str, list[LogRecord]] = {}
    for record in records:
        by_file.setdefault(record.provenance.file, []).append(record)
    taken = set(taken_names)
    sets: list[GoldenSet] = []
    behind: dict[str, LogRecord] = {}
    for file in sorted(by_file):
        name = _set_name(file, taken)
        taken.add(name)
        cases: dict[str, Case] = {}
        for record in by_file[file]:
            case = to_case(record, name, redactor=redactor, checks=checks)
            if case.id in cases:  # two records, one identity hash prefix: keep both apart
                case = replace(case, id=f"{case.id}-{len(cases)}")
            cases[case.id] = case
            behind[case.key] = record
        ordered = tuple(sorted(cases.values(), key=lambda c: (c.line or 0, c.id)))
        sets.append(
            GoldenSet(
                name=name,
                path=file,
                cases=ordered,
                description=f"{len(ordered)} record(s) sampled from production logs",
            )
        )
    return tuple(sets), behind


def _set_name(file: str, taken: set[str]) -> str:
    # The file's name without its extensions (app.jsonl.gz -> app): pytest shows a
    # location's dots as "::", so a set name keeps none.
    base = _NOT_NAME.sub("_", os.path.basename(file).split(".")[0]) or "logs"
    if base not in taken:
        return base
    whole = _NOT_NAME.sub("_", file.replace("/", "-").replace(".", "_"))
    name, number = whole, 2
    while name in taken:
        name = f"{whole}-{number}"
        number += 1
    return name
