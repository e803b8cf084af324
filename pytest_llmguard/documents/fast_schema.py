"""A JSON Schema compiled into plain closures that only answer "valid?".

jsonschema explains *why* a document is invalid, and pays for it on valid documents
too: resolving every ``$ref`` and building error contexts took ~90 % of the time to load
a large golden set. Nearly every document is valid, so each schema is also compiled
into plain closures that only answer "valid?". They answer True only when jsonschema
would report no error, False only when it would report one, and None ("cannot tell")
for anything they do not model; ``validate`` runs jsonschema itself unless the answer
is True, so every error message still comes from jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["Checker", "Verdict", "compile_checker"]

Verdict = bool | None  # True: valid; False: invalid; None: cannot tell
Checker = Callable[[Any], Verdict]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "description", "examples", "default"}
)
# Exact Python types whose JSON type is unambiguous; anything else asks jsonschema.
_PLAIN_TYPES: dict[type, str] = {
    str: "string",
    bool: "boolean",
    type(None): "null",
    list: "array",
    dict: "object",
}


class _Unsupported(Exception):
    """The schema uses a keyword the fast check does not model: no fast check for it."""


def _is_type(instance: Any, name: str) -> bool:
    plain = _PLAIN_TYPES.get(type(instance))
    if plain is not None:
        return plain == name
    # jsonschema's draft 2020-12 rules for numbers (bool, a subclass of int, is plain above)
    if type(instance) is int:
        return name in ("integer", "number")
    if type(instance) is float:
        return name == "number" or (name == "integer" and instance.is_integer())
    from jsonschema import Draft202012Validator

    return bool(Draft202012Validator.TYPE_CHECKER.is_type(instance, name))


def _every(verdicts: Iterable[Verdict]) -> Verdict:
    """False at the first False; else None if any was unsure; else True."""
    unsure = False
    for verdict in verdicts:
        if verdict is False:
            return False
        if verdict is None:
            unsure = True
    return None if unsure else True


def _all(checks: Sequence[Checker]) -> Checker:
    if len(checks) == 1:
        return checks[0]
    return lambda instance: _every(one(instance) for one in checks)


def _valid(instance: Any) -> Verdict:
    return True


def compile_checker(schema: Mapping[str, Any]) -> Checker | None:
    """A valid-or-not check equivalent to ``Draft202012Validator(schema)``, if modelled."""
    compiled: dict[str, Checker] = {}

    def ref(target: str) -> Checker:
        if not target.startswith("#/$defs/") or "/" in target[8:] or "~" in target:
            raise _Unsupported(target)
        name = target[8:]
        if name not in compiled:
            defs = schema.get("$defs", {})
            if name not in defs:
                raise _Unsupported(target)
            holder: list[Checker] = []
            compiled[name] = lambda instance: holder[0](instance)  # for recursive refs
            holder.append(compile_node(defs[name]))
        return compiled[name]

    def compile_node(node: Any) -> Checker:
        if node is True:
            return _valid
        if node is False:
            return lambda instance: False
        if not isinstance(node, Mapping):
            raise _Unsupported(repr(node))
        checks: list[Checker] = []
        for key, value in node.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            make = _KEYWORDS.get(key)
            if make is None:
                raise _Unsupported(key)
            checks.append(make(value, node, compile_node, ref))
        return _all(checks) if checks else _valid

    try:
        return compile_node(schema)
    except _Unsupported:
        return None


Compile = Callable[[Any], Checker]
Ref = Callable[[str], Checker]


def _type(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    names = [value] if isinstance(value, str) else list(value)
    return lambda instance: any(_is_type(instance, name) for name in names)


def _enum(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    # jsonschema compares a string with == ; other values have subtler equality rules.
    if not all(isinstance(v, str) for v in value):
        raise _Unsupported("enum")
    allowed = frozenset(value)

    def check(instance: Any) -> Verdict:
        if isinstance(instance, str):
            return instance in allowed
        return False if type(instance) in _PLAIN_TYPES or type(instance) in (int, float) else None

    return check


def _ref(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return ref(value)


def _properties(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    props = {name: sub(schema) for name, schema in value.items()}

    def check(instance: Any) -> Verdict:
        if not isinstance(instance, dict):
            return True if not _is_type(instance, "object") else None
        return _every(props[name](item) for name, item in instance.items() if name in props)

    return check


def _additional(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    if "patternProperties" in node:
        raise _Unsupported("patternProperties")
    known = frozenset(node.get("properties", {}))
    if value is False:

        def closed(instance: Any) -> Verdict:
            if not isinstance(instance, dict):
                return True if not _is_type(instance, "object") else None
            return known.issuperset(instance)

        return closed
    extra = sub(value)

    def check(instance: Any) -> Verdict:
        if not isinstance(instance, dict):
            return True if not _is_type(instance, "object") else None
        return _every(extra(item) for name, item in instance.items() if name not in known)

    return check


# jsonschema's own tests for these types are exactly these isinstance checks.
_ISINSTANCE: Mapping[str, type] = {"string": str, "object": dict, "array": list}


def _for_type(name: str, test: Callable[[Any], bool]) -> Checker:
    """A keyword that applies to one JSON type only and ignores every other value."""
    cls = _ISINSTANCE.get(name)
    if cls is not None:
        return lambda instance: test(instance) if isinstance(instance, cls) else True
    return lambda instance: test(instance) if _is_type(instance, name) else True


def _required(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    names = tuple(value)
    return _for_type("object", lambda instance: all(n in instance for n in names))


def _min_properties(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("object", lambda instance: len(instance) >= value)


def _max_properties(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("object", lambda instance: len(instance) <= value)


def _items(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    if "prefixItems" in node:
        raise _Unsupported("prefixItems")
    item = sub(value)

    def check(instance: Any) -> Verdict:
        if not isinstance(instance, list):
            return True if not _is_type(instance, "array") else None
        return _every(item(element) for element in instance)

    return check


def _min_items(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("array", lambda instance: len(instance) >= value)


def _max_items(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("array", lambda instance: len(instance) <= value)


def _unique_items(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    def check(instance: Any) -> Verdict:
        if not value or not isinstance(instance, list):
            return True
        if not all(isinstance(x, str) for x in instance):
            return None  # jsonschema's equality of other values has subtle rules
        return len(set(instance)) == len(instance)

    return check


def _min_length(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("string", lambda instance: len(instance) >= value)


def _max_length(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("string", lambda instance: len(instance) <= value)


def _pattern(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    search = re.compile(value).search
    return _for_type("string", lambda instance: search(instance) is not None)


def _minimum(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("number", lambda instance: not instance < value)


def _maximum(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("number", lambda instance: not instance > value)


def _exclusive_minimum(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _for_type("number", lambda instance: instance > value)


def _property_names(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    name_check = sub(value)

    def check(instance: Any) -> Verdict:
        if not isinstance(instance, dict):
            return True if not _is_type(instance, "object") else None
        return _every(name_check(name) for name in instance)

    return check


def _one_of(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    branches = [sub(schema) for schema in value]

    def check(instance: Any) -> Verdict:
        verdicts = [branch(instance) for branch in branches]
        if None in verdicts:
            return None
        return verdicts.count(True) == 1

    return check


def _any_of(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    branches = [sub(schema) for schema in value]

    def check(instance: Any) -> Verdict:
        verdicts = [branch(instance) for branch in branches]
        if True in verdicts:
            return True
        return None if None in verdicts else False

    return check


def _all_of(value: Any, node: Mapping[str, Any], sub: Compile, ref: Ref) -> Checker:
    return _all([sub(schema) for schema in value])


_KEYWORDS: Mapping[str, Callable[[Any, Mapping[str, Any], Compile, Ref], Checker]] = {
    "type": _type,
    "enum": _enum,
    "$ref": _ref,
    "properties": _properties,
    "additionalProperties": _additional,
    "required": _required,
    "minProperties": _min_properties,
    "maxProperties": _max_properties,
    "items": _items,
    "minItems": _min_items,
    "maxItems": _max_items,
    "uniqueItems": _unique_items,
    "minLength": _min_length,
    "maxLength": _max_length,
    "pattern": _pattern,
    "minimum": _minimum,
    "maximum": _maximum,
    "exclusiveMinimum": _exclusive_minimum,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "anyOf": _any_of,
    "allOf": _all_of,
}
