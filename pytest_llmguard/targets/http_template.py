"""The ``http`` provider's request template and response selectors.

A body template is JSON (a YAML mapping or list in the config) whose strings may hold
placeholders. Substitution happens inside the parsed structure and the body is
serialised afterwards, so no value can break it: a prompt with quotes, backslashes or
newlines stays one JSON string. A string that is exactly one placeholder takes the
value itself (``"{{messages}}"`` becomes a list, ``"{{params.max_tokens}}"`` a number),
and an entry whose value is missing (no system prompt, a param not set) is left out; a
placeholder inside longer text is replaced by the value's text.

Placeholders: ``{{prompt}}`` (the last user message), ``{{system}}``, ``{{messages}}``
(every message as ``{role, content}``), ``{{messages_no_system}}``, ``{{model}}``,
``{{params}}`` (the target's params updated by the case's), ``{{params.NAME}}``,
``{{vars}}``, ``{{vars.NAME}}`` (the case's vars), ``{{case_id}}``, ``{{set}}``.

A selector names a value in a JSON document: ``choices.0.message.content``, also
written ``choices[0].message.content`` or with a leading ``$.``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.records import Case

PLACEHOLDERS = (
    "prompt",
    "system",
    "messages",
    "messages_no_system",
    "model",
    "params",
    "vars",
    "case_id",
    "set",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SEGMENT = re.compile(r"([^.\[\]]*)((?:\[\d+\])*)")
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

Path = tuple[str | int, ...]


# --------------------------------------------------------------------------- selectors


def parse_selector(text: str) -> Path:
    """``a.b[0].c`` (or ``a.b.0.c``, ``$.a.b``) as its segments; ValueError if malformed."""
    body = text[2:] if text.startswith("$.") else text
    parts: list[str | int] = []
    for segment in body.split("."):
        match = _SEGMENT.fullmatch(segment)
        if match is None or not (match.group(1) or match.group(2)):
            raise ValueError(f"selector {text!r} is not of the form a.b.0.c or a.b[0].c")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\d+", match.group(2)))
    return tuple(parts)


def select(document: Any, path: Path) -> Any:
    """The value at ``path`` in ``document``, or ``MISSING``.

    A segment that is a number (``0`` or ``[0]``) indexes a list; on an object it is a key.
    """
    value = document
    for part in path:
        if isinstance(value, list):
            index = part if isinstance(part, int) else _index(part)
            if index is None or not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        elif isinstance(value, dict):
            key = str(part)
            if key not in value:
                return MISSING
            value = value[key]
        else:
            return MISSING
    return value


def _index(part: str) -> int | None:
    return int(part) if part.isdigit() else None


# --------------------------------------------------------------------------- templates


def template_problems(body: Any) -> list[str]:
    """Placeholders of ``body`` that name nothing (with what they may name)."""
    problems = []
    for name in _placeholders(body):
        head, _, rest = name.partition(".")
        if head not in PLACEHOLDERS or (rest and head not in ("params", "vars")):
            problems.append(name)
    return problems


def _placeholders(value: Any) -> list[str]:
    if isinstance(value, str):
        return _PLACEHOLDER.findall(value)
    if isinstance(value, Mapping):
        return [name for item in value.values() for name in _placeholders(item)]
    if isinstance(value, list):
        return [name for item in value for name in _placeholders(item)]
    return []


def case_values(case: Case, target: TargetConfig) -> dict[str, Any]:
    """What the placeholders stand for, for one case of one target."""
    messages = [m.to_dict() for m in case.messages]
    return {
        "prompt": case.prompt,
        "system": MISSING if case.system is None else case.system,
        "messages": messages,
        "messages_no_system": [m for m in messages if m["role"] not in ("system", "developer")],
        "model": target.model,
        "params": {**target.params, **case.params},
        "vars": dict(case.vars),
        "case_id": case.id,
        "set": case.set_name,
    }


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """``template`` with its placeholders filled from ``values`` (see the module docstring).

    KeyError naming the placeholder when a value inside longer text is missing.
    """
    rendered = _render(template, values)
    return None if rendered is MISSING else rendered


def _render(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return _render_text(value, values)
    if isinstance(value, Mapping):
        items = ((k, _render(v, values)) for k, v in value.items())
        return {k: v for k, v in items if v is not MISSING}
    if isinstance(value, list):
        return [v for v in (_render(item, values) for item in value) if v is not MISSING]
    return value


def _render_text(text: str, values: Mapping[str, Any]) -> Any:
    if "{{" not in text:
        return text
    whole = _PLACEHOLDER.fullmatch(text)
    if whole is not None:
        return _lookup(values, whole.group(1))

    def replace(match: re.Match[str]) -> str:
        found = _lookup(values, match.group(1))
        if found is MISSING:
            if match.group(1) == "system":
                return ""
            raise KeyError(match.group(1))
        return found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)

    return _PLACEHOLDER.sub(replace, text)


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    head, _, rest = name.partition(".")
    value = values.get(head, MISSING)
    if rest and isinstance(value, Mapping):
        return value.get(rest, MISSING)
    return MISSING if rest else value


def text_of(value: Any) -> str:
    """A selected output as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


__all__: Sequence[str] = (
    "MISSING",
    "PLACEHOLDERS",
    "case_values",
    "parse_selector",
    "render",
    "select",
    "template_problems",
    "text_of",
)
