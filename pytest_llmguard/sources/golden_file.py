"""A sample of production logs written as a golden set, for review and commit.

``llmguard sample ... -o golden_sets/prod.yaml`` writes the sampled cases (already
redacted by ``sources.cases``) as a YAML golden set that the golden-set schema accepts
and ``golden.py`` loads: each case keeps the record's stable id, its conversation (a
``prompt`` when it is one user message), the logged response as ``expected``, the
replayed parameters, the ``logs.checks`` and its ``provenance``, and a header comment
says where and how it was sampled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.records import Case

__all__ = ["golden_set_text"]


class _Dumper(yaml.SafeDumper):
    """Multi-line text as ``|`` blocks: a reviewer reads the conversation as written."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _case(case: Case) -> dict[str, Any]:
    out: dict[str, Any] = {"id": case.id}
    messages = case.messages
    if len(messages) == 1 and messages[0].role == "user":
        out["prompt"] = messages[0].content
    else:
        out["messages"] = [m.to_dict() for m in messages]
    if case.expected is not None:
        out["expected"] = case.expected
    if case.params:
        out["params"] = dict(case.params)
    if case.checks:
        out["checks"] = [c.to_dict() for c in case.checks]
    if case.provenance is not None:
        out["provenance"] = case.provenance.to_dict()
    return out


def golden_set_text(
    cases: Sequence[Case], *, name: str, header: Sequence[str], tags: Sequence[str] = ()
) -> str:
    """The YAML of a golden set holding ``cases`` (ids made unique), after a comment header."""
    seen: set[str] = set()
    entries = []
    for case in cases:
        entry = _case(case)
        base, number = entry["id"], 2
        while entry["id"] in seen:
            entry["id"] = f"{base}-{number}"
            number += 1
        seen.add(entry["id"])
        entries.append(entry)
    document: dict[str, Any] = {"name": name}
    if tags:
        document["tags"] = list(tags)
    document["cases"] = entries
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + body


def write_golden_set(path: str, cases: Sequence[Case], *, name: str, header: Sequence[str]) -> None:
    """Write the golden set atomically (a reader never sees half a file)."""
    write_atomic(path, golden_set_text(cases, name=name, header=header, tags=("logs",)))
