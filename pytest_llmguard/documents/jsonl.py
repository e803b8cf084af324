"""The strict JSONL loader used by golden sets: the whole file, or one clear error.

A golden set is written by hand and small (``MAX_BYTES``), so its first bad line stops
the load with file:line and a hint. Production logs are the opposite case and go through
``stream.iter_json_lines`` instead, which counts bad lines and carries on.
"""

from __future__ import annotations

import codecs
import json
import os
from typing import Any

from pytest_llmguard.documents.document import describe
from pytest_llmguard.documents.reading import MAX_BYTES, check_not_utf16, read_bytes
from pytest_llmguard.exceptions import UsageError

__all__ = ["load_jsonl"]


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
    raw = read_bytes(os.fspath(path), name, error, max_bytes)
    check_not_utf16(raw, name, error)
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
