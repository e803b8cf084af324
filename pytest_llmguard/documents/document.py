"""The ``Document`` record: parsed data plus the line of every key and item.

Every loader in this package returns one, so an error found later (by the schema, or by
``golden.py`` while rendering a case) can still name file:line and the key path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pytest_llmguard.exceptions import UsageError

__all__ = ["Document", "E", "JsonPath", "describe", "format_path"]

JsonPath = tuple[Any, ...]  # mapping keys (usually str) and list indexes (int)
E = TypeVar("E", bound=UsageError)


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
