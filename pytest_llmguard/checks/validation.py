"""Check arguments validated when a golden set loads, before any call is made.

Each validator takes the check's kind (for its messages) and its argument as written in
YAML, and raises :class:`CheckSpecError` saying what is wrong and what is valid; the
golden-set loader adds the file and line. Which kind uses which validator is decided in
:mod:`~pytest_llmguard.checks.registry`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pytest_llmguard.exceptions import CheckSpecError
from pytest_llmguard.metrics.pii import PII_KINDS

from .compiled import compiled_pattern, schema_validator


def _show(arg: object) -> str:
    text = json.dumps(arg, default=str) if not isinstance(arg, str) else repr(arg)
    return f"{type(arg).__name__} {text[:60]}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def need_string(kind: str, arg: object) -> None:
    """A non-empty string."""
    if not isinstance(arg, str) or not arg:
        raise CheckSpecError(f"{kind}: expected a non-empty string, got {_show(arg)}")


def need_string_list(kind: str, arg: object) -> None:
    """A non-empty list of non-blank strings."""
    if (
        not isinstance(arg, list)
        or not arg
        or not all(isinstance(item, str) and item.strip() for item in arg)
    ):
        raise CheckSpecError(
            f"{kind}: expected a non-empty list of non-empty strings, got {_show(arg)}",
            hint=f'{kind}: ["30 days", "receipt"]',
        )


def need_regex(kind: str, arg: object) -> None:
    """A Python regular expression that compiles."""
    need_string(kind, arg)
    assert isinstance(arg, str)
    try:
        compiled_pattern(arg)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise CheckSpecError(
            f"{kind}: invalid regular expression {arg!r}: {exc.msg}{where}",
            hint="YAML double-quoted strings need \\\\ for a backslash; single quotes do not",
        ) from None


def need_schema(kind: str, arg: object) -> None:
    """A valid JSON Schema object whose ``$ref`` are all local and resolve."""
    if not isinstance(arg, dict):
        raise CheckSpecError(
            f"{kind}: expected a JSON Schema object, got {_show(arg)}",
            hint=f"{kind}: {{type: object, required: [answer]}}",
        )
    from jsonschema.exceptions import SchemaError  # only sets with json_schema checks pay for it

    try:
        schema_validator(arg)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise CheckSpecError(f"{kind}: invalid schema at {path}: {exc.message}") from None
    except RecursionError:
        raise CheckSpecError(f"{kind}: the schema is nested too deeply") from None
    _check_refs(kind, arg, arg)


def _check_refs(kind: str, node: object, root: dict[str, Any], depth: int = 0) -> None:
    """Every ``$ref`` must be local (``#/...``) and resolve: no network, no crash later."""
    if depth > 200:
        raise CheckSpecError(f"{kind}: the schema is nested too deeply")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
                raise CheckSpecError(
                    f"{kind}: $ref {ref!r} is not a local reference",
                    hint="only references inside the schema (#/...) are allowed",
                )
            target: object = root
            for part in ref[2:].split("/") if ref != "#" else ():
                part = part.replace("~1", "/").replace("~0", "~")
                if isinstance(target, dict) and part in target:
                    target = target[part]
                elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                    target = target[int(part)]
                else:
                    raise CheckSpecError(f"{kind}: $ref {ref!r} does not resolve")
        for value in node.values():
            _check_refs(kind, value, root, depth + 1)
    elif isinstance(node, list):
        for value in node:
            _check_refs(kind, value, root, depth + 1)


def need_positive_int(kind: str, arg: object) -> None:
    """A positive integer (not a bool)."""
    if isinstance(arg, bool) or not isinstance(arg, int) or arg <= 0:
        raise CheckSpecError(f"{kind}: expected a positive integer, got {_show(arg)}")


def need_min_score(kind: str, arg: object) -> None:
    """``{min: <number 0..1>}`` and nothing else."""
    if not isinstance(arg, dict) or set(arg) != {"min"}:
        raise CheckSpecError(
            f"{kind}: expected {{min: <number 0..1>}}, got {_show(arg)}",
            hint=f"{kind}: {{min: 0.7}}",
        )
    low = arg["min"]
    if not _is_number(low) or not 0.0 <= low <= 1.0:
        raise CheckSpecError(f"{kind}: min must be a number from 0 to 1, got {_show(low)}")


def need_pii_kinds(kind: str, arg: object) -> None:
    """``true``, ``false`` or a non-empty list of known PII kinds."""
    if isinstance(arg, bool):
        return
    if isinstance(arg, list) and arg and all(isinstance(k, str) for k in arg):
        unknown = [k for k in arg if k not in PII_KINDS]
        if not unknown:
            return
        raise CheckSpecError(
            f"{kind}: unknown PII kind {unknown[0]!r}; valid: {', '.join(PII_KINDS)}"
        )
    raise CheckSpecError(
        f"{kind}: expected true, false or a list of PII kinds ({', '.join(PII_KINDS)}), "
        f"got {_show(arg)}"
    )


def need_bool(kind: str, arg: object) -> None:
    """``true`` or ``false``."""
    if not isinstance(arg, bool):
        raise CheckSpecError(f"{kind}: expected true or false, got {_show(arg)}")


def need_unit_number(kind: str, arg: object) -> None:
    """A number from 0 to 1."""
    if not _is_number(arg) or not 0.0 <= float(arg) <= 1.0:  # type: ignore[arg-type]
        raise CheckSpecError(
            f"{kind}: expected a number from 0 to 1, got {_show(arg)}",
            hint=f"{kind}: 0.3",
        )
