"""User-written YAML / JSONL documents, with a line number for every key and item.

``load_document`` reads YAML the way ``yaml.safe_load`` does, with these differences,
each of which turns a silent surprise into either the obvious value or a clear error:

- scalars follow YAML 1.2's core schema: only ``true``/``false`` are booleans (``on``,
  ``no``, ``yes`` stay strings, so ``retries: {on: [timeout]}`` has the key ``"on"``),
  dates stay strings, ``1e-3`` is a float, ``012`` is the string ``"012"``, ``1:20`` is a
  string (YAML 1.1 reads it as 80);
- duplicate keys in one mapping are an error (safe_load keeps the last one silently);
- aliases that expand to more than ``MAX_ALIAS_NODES`` nodes (a "billion laughs" bomb),
  recursive aliases, non-UTF-8 bytes, empty files and files over ``MAX_BYTES`` are errors.

``validate`` checks a document against one of the JSON Schemas shipped in
``pytest_llmguard/schemas`` and turns the most useful error into one message with
file:line, the key path (``targets.candidate.provider``), what was found and what is
allowed, plus "did you mean" for unknown keys and enum values.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_llmguard.exceptions import UsageError
from pytest_llmguard.suggest import did_you_mean_hint

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "Document",
    "JsonPath",
    "describe",
    "format_path",
    "load_document",
    "load_jsonl",
    "load_schema",
    "parse_yaml",
    "validate",
]

JsonPath = tuple[Any, ...]  # mapping keys (usually str) and list indexes (int)
E = TypeVar("E", bound=UsageError)

MAX_BYTES = 20 * 1024 * 1024
MAX_ALIAS_NODES = 10_000
SCHEMA_DIR = Path(__file__).parent / "schemas"

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class Document:
    """Parsed data plus the line of every key and list item, for error messages.

    ``path`` is the file as shown to the user. ``lines`` maps a JSON path (a tuple of
    keys and indexes) to a 1-based line; a mapping value maps to the line of its key.
    """

    path: str
    data: Any
    lines: Mapping[JsonPath, int] = field(default_factory=dict)

    def line_of(self, json_path: Sequence[Any]) -> int | None:
        """Line of ``json_path``, or of its nearest ancestor that has one."""
        path = tuple(json_path)
        while True:
            line = self.lines.get(path)
            if line is not None:
                return line
            if not path:
                return None
            path = path[:-1]

    def error(
        self,
        error: type[E],
        message: str,
        json_path: Sequence[Any] = (),
        *,
        hint: str | None = None,
        docs: str | None = None,
    ) -> E:
        """An exception of class ``error`` located at ``json_path`` in this document.

        ``docs`` names the README section that explains the key (``golden-sets``).
        """
        return error(
            message,
            file=self.path,
            line=self.line_of(json_path),
            key_path=format_path(json_path) or None,
            hint=hint,
            docs=docs,
        )


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def format_path(json_path: Iterable[Any]) -> str:
    """Render a JSON path as users write it: ``cases[3].checks[1].regex``.

    Keys that are not plain words are quoted: ``pricing["gpt-4.1-mini"]``.
    """
    out = ""
    for part in json_path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _secret_like(value: Any) -> bool:
    from pytest_llmguard.faults import scrub

    return isinstance(value, str) and scrub(value) != value


def describe(value: Any) -> str:
    """A short phrase for a found value: ``a string ('abc')``, ``a list``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------- reading


def _read_bytes(path: str, display: str, error: type[E], max_bytes: int | None) -> bytes:
    try:
        if os.path.isdir(path):
            raise error("is a directory, expected a file", file=display)
        size = os.stat(path).st_size
        if max_bytes is not None and size > max_bytes:
            raise error(
                f"file is too large ({size / 1e6:.1f} MB); the limit is {max_bytes / 1e6:.0f} MB",
                file=display,
                hint="split it into several files",
            )
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise error("file not found", file=display) from None
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror or exc}", file=display) from None


def _check_not_utf16(raw: bytes, display: str, error: type[E]) -> None:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise error(
            "file is UTF-16 encoded; it must be UTF-8",
            file=display,
            line=1,
            hint="re-save the file as UTF-8",
        )


def _decode(raw: bytes, display: str, error: type[E]) -> str:
    _check_not_utf16(raw, display, error)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}",
            file=display,
            line=raw.count(b"\n", 0, exc.start) + 1,
            hint="re-save the file as UTF-8",
        ) from None


# --------------------------------------------------------------------------- YAML


# libyaml parses ~20x faster than the pure-Python parser (a 5,000-case set: 0.5 s, not
# 9 s); both give the node marks that line numbers come from.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """Safe loader with YAML 1.2 core-schema scalars (see the module docstring)."""


_REPLACED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
# A float needs a dot or an exponent, so "012" (no int either) stays a string.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def load_document(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    error: type[UsageError] = UsageError,
    max_bytes: int | None = MAX_BYTES,
) -> Document:
    """Read a YAML file into a ``Document`` (data + line of every key and item).

    ``display`` is how the file is named in messages (default: ``path``); every problem
    raises one ``error`` (a ``UsageError`` subclass) naming the file and line.
    """
    name = display if display is not None else os.fspath(path)
    raw = _read_bytes(os.fspath(path), name, error, max_bytes)
    return parse_yaml(_decode(raw, name, error), name, error=error)


def parse_yaml(text: str, display: str, *, error: type[UsageError] = UsageError) -> Document:
    """Parse YAML text into a ``Document``; see ``load_document``."""
    if not text.strip():
        raise error("file is empty", file=display, hint="it must contain a YAML mapping")
    loader: _Loader | None = None
    try:
        try:
            # The reader rejects control characters as soon as it is constructed.
            loader = _Loader(text)
            node = loader.get_single_node()
            if node is None:
                raise error(
                    "file is empty (only comments)",
                    file=display,
                    hint="it must contain a YAML mapping",
                )
            _check_graph(node, display, error)
            data = loader.construct_document(node)
            lines = _collect_lines(loader, node)
        except yaml.MarkedYAMLError as exc:
            raise _yaml_error(exc, text, display, error) from None
        except yaml.YAMLError as exc:
            position = getattr(exc, "position", None)
            line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
            raise error(f"invalid YAML: {exc}", file=display, line=line) from None
        except RecursionError:
            raise error("invalid YAML: nested too deeply", file=display) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Document(display, data, lines)


# PyYAML names tokens by their grammar names; users know them by what they typed.
_TOKEN_NAMES = {
    "'<block end>'": "the end of the indented block",
    "<block end>": "the end of the indented block",
    "'<block sequence start>'": "a '-' list item",
    "'<block mapping start>'": "a new 'key: value' mapping",
    "'<document start>'": "the start of a new document",
    "'<stream end>'": "the end of the file",
    "'<scalar>'": "a plain value",
}


def _readable(text: str) -> str:
    for token, name in _TOKEN_NAMES.items():
        text = text.replace(token, name)
    return text


def _yaml_error(exc: yaml.MarkedYAMLError, text: str, display: str, error: type[E]) -> E:
    mark = exc.problem_mark or exc.context_mark
    problem = _readable(exc.problem or "syntax error")
    message = f"invalid YAML: {problem}"
    if exc.context and problem.startswith("but "):
        # "expected a single document in the stream" / "but found another document"
        message = f"invalid YAML: {_readable(exc.context)}, {problem}"
    elif exc.context:
        context_line = f" (line {exc.context_mark.line + 1})" if exc.context_mark else ""
        message += f", {_readable(exc.context)}{context_line}"
    hint = None
    index = getattr(mark, "index", None)
    if "'\\t'" in problem or (isinstance(index, int) and text[index : index + 1] == "\t"):
        hint = "YAML indentation must use spaces, not tabs"
    elif "expected a single document" in (exc.context or ""):
        hint = "a file holds one YAML document; remove the extra '---'"
    elif "block" in (exc.context or ""):
        hint = "check the indentation of this line against the lines above it"
    return error(message, file=display, line=mark.line + 1 if mark else None, hint=hint)


def _check_graph(root: Node, display: str, error: type[E]) -> None:
    """Reject duplicate keys, recursive aliases and alias bombs before constructing.

    Aliases make the node graph a DAG; the expanded size of each node is memoized, so a
    bomb is measured in time linear in the file, never expanded.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    alias_nodes = 0

    def visit(node: Node) -> int:
        nonlocal alias_nodes
        ident = id(node)
        known = sizes.get(ident)
        if known is not None:
            alias_nodes += known
            if alias_nodes > MAX_ALIAS_NODES:
                raise error(
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES:,} nodes "
                    "(an alias bomb?); the anchor here is repeated too often",
                    file=display,
                    line=node.start_mark.line + 1,
                    hint="write the repeated data out, or reference it fewer times",
                )
            return known
        if ident in active:
            raise error(
                "recursive YAML alias: an alias refers to the anchor that contains it",
                file=display,
                line=node.start_mark.line + 1,
            )
        active.add(ident)
        size = 1
        if isinstance(node, SequenceNode):
            for item in node.value:
                size += visit(item)
        elif isinstance(node, MappingNode):
            _check_duplicate_keys(node, display, error)
            for key, value in node.value:
                size += visit(key) + visit(value)
        active.discard(ident)
        sizes[ident] = size
        return size

    visit(root)


def _check_duplicate_keys(node: MappingNode, display: str, error: type[E]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
            continue
        line = key.start_mark.line + 1
        first = seen.get((key.tag, key.value))
        if first is not None:
            raise error(
                f"duplicate key {key.value!r} (first defined at line {first})",
                file=display,
                line=line,
                hint="a key may appear only once in a mapping",
            )
        seen[(key.tag, key.value)] = line


def _collect_lines(loader: _Loader, root: Node) -> dict[JsonPath, int]:
    """Line of every key and item; runs after construction so merge keys are flattened."""
    lines: dict[JsonPath, int] = {(): root.start_mark.line + 1}
    stack: list[tuple[Node, JsonPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, MappingNode):
            for key_node, value in node.value:
                key: Any = (
                    loader.construct_object(key_node)
                    if isinstance(key_node, ScalarNode)
                    else key_node.start_mark.line
                )
                child = (*path, key)
                lines[child] = key_node.start_mark.line + 1
                stack.append((value, child))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                lines[child] = item.start_mark.line + 1
                stack.append((item, child))
    return lines


# --------------------------------------------------------------------------- JSONL


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def load_jsonl(
    path: str | os.PathLike[str],
    *,
    display: str | None = None,
    error: type[UsageError] = UsageError,
    max_bytes: int | None = MAX_BYTES,
) -> list[tuple[int, Any]]:
    """Read a JSONL file: one JSON object per line, as ``(line_number, object)`` pairs.

    Blank lines are skipped. A line that is not a JSON object, a duplicate key, a
    non-UTF-8 byte or a file without any object raises one ``error`` naming the line.
    """
    name = display if display is not None else os.fspath(path)
    raw = _read_bytes(os.fspath(path), name, error, max_bytes)
    _check_not_utf16(raw, name, error)
    offset = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    records: list[tuple[int, Any]] = []
    for lineno, raw_line in enumerate(raw[offset:].split(b"\n"), 1):
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as exc:
            position = offset + exc.start
            raise error(
                f"file is not valid UTF-8: byte 0x{raw[position]:02x} at byte offset {position}",
                file=name,
                line=lineno,
                hint="re-save the file as UTF-8",
            ) from None
        offset += len(raw_line) + 1
        stripped = text.strip()
        if not stripped:
            continue
        try:
            value = json.loads(stripped, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKeyError as exc:
            raise error(
                f"duplicate key {exc.args[0]!r} in this line", file=name, line=lineno
            ) from None
        except RecursionError:
            raise error(
                "the JSON on this line is nested too deeply", file=name, line=lineno
            ) from None
        except json.JSONDecodeError as exc:
            hint = "each line must hold one complete JSON object"
            if stripped in ("{", "["):
                hint = "this looks like pretty-printed JSON; JSONL needs one object per line"
            raise error(
                f"invalid JSON: {exc.msg} (column {exc.colno})", file=name, line=lineno, hint=hint
            ) from None
        if not isinstance(value, dict):
            raise error(
                f"each line must be a JSON object, found {describe(value)}",
                file=name,
                line=lineno,
            )
        records.append((lineno, value))
    if not records:
        raise error("file is empty", file=name, hint="it must contain one JSON object per line")
    return records


# --------------------------------------------------------------------------- schemas


@cache
def load_schema(name: str) -> Mapping[str, Any]:
    """One of the JSON Schemas shipped in ``pytest_llmguard/schemas`` (by file name)."""
    with open(SCHEMA_DIR / name, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    # jsonschema (~0.1 s to import) only runs when the fast check cannot say "valid".
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def validate(
    doc: Document, schema_name: str, error: type[UsageError], *, docs: str | None = None
) -> None:
    """Validate ``doc.data`` against a shipped schema; raise one ``error`` if invalid.

    Of all errors, the first in the file is reported, except that a missing-key or
    "one of" error on a mapping that also has an unknown key is dropped: the unknown
    key is almost always a typo of the missing one.
    """
    fast = _fast(schema_name)
    if fast is not None and fast(doc.data) is True:
        return
    errors = list(_validator(schema_name).iter_errors(doc.data))
    if not errors:
        return
    typo_paths = {
        tuple(e.absolute_path)
        for e in errors
        if e.validator in ("additionalProperties", "unevaluatedProperties")
    }
    weak = ("required", "oneOf", "anyOf", "dependentRequired")
    kept = [e for e in errors if not (e.validator in weak and tuple(e.absolute_path) in typo_paths)]
    first = min(kept or errors, key=lambda e: (doc.line_of(_location(e)) or 0, _rank(e)))
    raise _translate(first, doc, error, docs)


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


# --------------------------------------------------------------------------- fast validity
#
# jsonschema explains *why* a document is invalid, and pays for it on valid documents
# too: resolving every ``$ref`` and building error contexts took ~90 % of the time to load
# a large golden set. Nearly every document is valid, so each schema is also compiled
# into plain closures that only answer "valid?". They answer True only when jsonschema
# would report no error, False only when it would report one, and None ("cannot tell")
# for anything they do not model; ``validate`` runs jsonschema itself unless the answer
# is True, so every error message still comes from jsonschema.

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


def _fast_checker(schema: Mapping[str, Any]) -> Checker | None:
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


@cache
def _fast(name: str) -> Checker | None:
    return _fast_checker(load_schema(name))
