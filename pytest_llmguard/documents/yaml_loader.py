"""User-written YAML, read safely, with a line number for every key and item.

``load_document`` reads YAML the way ``yaml.safe_load`` does, with these differences,
each of which turns a silent surprise into either the obvious value or a clear error:

- scalars follow YAML 1.2's core schema: only ``true``/``false`` are booleans (``on``,
  ``no``, ``yes`` stay strings, so ``retries: {on: [timeout]}`` has the key ``"on"``),
  dates stay strings, ``1e-3`` is a float, ``012`` is the string ``"012"``, ``1:20`` is a
  string (YAML 1.1 reads it as 80);
- duplicate keys in one mapping are an error (safe_load keeps the last one silently);
- aliases that expand to more than ``MAX_ALIAS_NODES`` nodes (a "billion laughs" bomb),
  recursive aliases, non-UTF-8 bytes, empty files and files over ``MAX_BYTES`` are errors.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_llmguard.documents.document import Document, E, JsonPath
from pytest_llmguard.documents.reading import MAX_BYTES, decode, read_bytes
from pytest_llmguard.exceptions import UsageError

__all__ = ["MAX_ALIAS_NODES", "load_document", "parse_yaml"]

MAX_ALIAS_NODES = 10_000

_MERGE_TAG = "tag:yaml.org,2002:merge"


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
    raw = read_bytes(os.fspath(path), name, error, max_bytes)
    return parse_yaml(decode(raw, name, error), name, error=error)


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
