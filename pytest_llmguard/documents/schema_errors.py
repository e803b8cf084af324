"""jsonschema's errors turned into one clear error: file:line, key path, found vs allowed.

jsonschema reports every violation, in schema order, in its own words ("'x' is not of
type 'integer'"). A user wants the one that matters, located in their file, phrased as
what was found and what is allowed, with "did you mean" for a misspelt key or value.
A schema can override the phrasing of a keyword with ``x-messages``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmguard.documents.document import Document, E, JsonPath, describe
from pytest_llmguard.suggest import did_you_mean_hint

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["explain"]


def explain(
    errors: Sequence[ValidationError], doc: Document, error: type[E], docs: str | None
) -> E:
    """One ``error`` for the most useful of jsonschema's ``errors`` (at least one).

    Of all errors, the first in the file is reported, except that a missing-key or
    "one of" error on a mapping that also has an unknown key is dropped: the unknown
    key is almost always a typo of the missing one.
    """
    typo_paths = {
        tuple(e.absolute_path)
        for e in errors
        if e.validator in ("additionalProperties", "unevaluatedProperties")
    }
    weak = ("required", "oneOf", "anyOf", "dependentRequired")
    kept = [e for e in errors if not (e.validator in weak and tuple(e.absolute_path) in typo_paths)]
    first = min(kept or errors, key=lambda e: (doc.line_of(_location(e)) or 0, _rank(e)))
    return _translate(first, doc, error, docs)


def _secret_like(value: Any) -> bool:
    from pytest_llmguard.faults import scrub

    return isinstance(value, str) and scrub(value) != value


def _rank(e: ValidationError) -> int:
    if e.validator in ("additionalProperties", "unevaluatedProperties"):
        return 0
    return 2 if e.validator in ("required", "oneOf", "anyOf") else 1


def _unknown_keys(e: ValidationError) -> list[Any]:
    schema = e.schema if isinstance(e.schema, Mapping) else {}
    allowed = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    instance = e.instance if isinstance(e.instance, Mapping) else {}
    return [k for k in instance if k not in allowed and not any(p.search(str(k)) for p in patterns)]


def _is_property_name(e: ValidationError) -> bool:
    return "propertyNames" in e.absolute_schema_path


def _location(e: ValidationError) -> JsonPath:
    path = tuple(e.absolute_path)
    if e.validator in ("additionalProperties", "unevaluatedProperties"):
        unknown = _unknown_keys(e)
        if unknown:
            return (*path, unknown[0])
    if _is_property_name(e):
        return (*path, e.instance)
    return path


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _custom(e: ValidationError) -> str | None:
    schema = e.schema if isinstance(e.schema, Mapping) else {}
    messages = schema.get("x-messages", {})
    text = messages.get(e.validator)
    return text if isinstance(text, str) else None


def _translate(e: ValidationError, doc: Document, error: type[E], docs: str | None) -> E:
    custom = _custom(e)
    if e.validator in ("oneOf", "anyOf") and custom is None and e.context:
        from jsonschema.exceptions import best_match

        deeper = best_match([e])
        if deeper is not None and deeper is not e:
            return _translate(deeper, doc, error, docs)
    location = _location(e)
    value: Any = e.instance
    limit: Any = e.validator_value
    kind = str(e.validator)
    hint: str | None = None

    if kind in ("additionalProperties", "unevaluatedProperties"):
        schema = e.schema if isinstance(e.schema, Mapping) else {}
        allowed = [str(k) for k in schema.get("properties", {})]
        unknown = location[-1] if location else "?"
        message = f"unknown key {unknown!r}" + did_you_mean_hint(str(unknown), allowed)
        if allowed:
            hint = "allowed keys here: " + ", ".join(allowed)
        return doc.error(error, message, location, hint=hint, docs=docs)

    if _is_property_name(e):
        rule = custom or f"does not match {limit!r}"
        return doc.error(error, f"invalid name {value!r}: {rule}", location, docs=docs)

    if kind == "required":
        missing = [k for k in limit if k not in value]
        message = custom or f"missing required key {missing[0]!r}"
    elif kind == "type":
        types = limit if isinstance(limit, list) else [limit]
        expected = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        message = f"expected {expected}, found {describe(value)}"
        hint = custom
    elif kind == "enum":
        options = [str(o) for o in limit]
        message = f"{value!r} is not allowed; expected one of: {', '.join(options)}"
        if isinstance(value, str):
            message += did_you_mean_hint(value, options)
    elif kind == "const":
        message = custom or f"expected {limit!r}, found {describe(value)}"
    elif kind == "pattern":
        rule = custom or f"must match the pattern {limit}"
        # Never echo what was found where a secret may have been pasted by mistake.
        shown = "a value that looks like a secret" if _secret_like(value) else repr(value)
        message = f"{rule}; found {shown}"
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        op = {
            "minimum": ">=",
            "exclusiveMinimum": ">",
            "maximum": "<=",
            "exclusiveMaximum": "<",
        }[kind]
        message = custom or f"must be {op} {limit}, found {value!r}"
    elif kind == "minLength":
        message = custom or (
            "must not be empty" if limit == 1 else f"must be at least {limit} characters long"
        )
    elif kind == "maxLength":
        message = custom or (f"is {len(value)} characters long; the limit is {limit}")
    elif kind == "minItems":
        message = custom or f"needs at least {limit} item{'s' if limit != 1 else ''}"
    elif kind == "maxItems":
        message = custom or f"has {len(value)} items; the limit is {limit}"
    elif kind == "minProperties":
        message = custom or "must not be empty"
    elif kind == "maxProperties":
        message = custom or f"has {len(value)} keys; the limit is {limit}"
        if isinstance(value, Mapping) and custom:
            message += f" (found: {', '.join(map(str, value))})"
    elif kind == "uniqueItems":
        seen: list[Any] = []
        duplicate: Any = None
        for item in value:
            if item in seen:
                duplicate = item
                break
            seen.append(item)
        message = custom or f"lists {duplicate!r} more than once"
    elif kind in ("oneOf", "anyOf") and custom is not None:
        scalar = not isinstance(value, Mapping | list)
        message = f"{custom}; found {describe(value)}" if scalar else custom
    else:
        message = custom or e.message
    return doc.error(error, message, location, hint=hint, docs=docs)
