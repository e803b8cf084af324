"""Log files to JSON objects, streamed: JSONL/NDJSON line by line, or one JSON document.

Which of the two a file is, is read from its first line (gzip recognised by its magic
bytes, whatever the name): a line that is a JSON object on its own makes a JSONL file
(``documents.stream.iter_json_lines``: bad lines counted with their line numbers); any
other start (``[``, a pretty-printed ``{``) makes one JSON document, which is streamed
with ijson's C parser: only the items at the reader's ``prefixes`` are built, one at a
time, so an OTLP export of a few GB is read in constant memory. A document that breaks
off counts as one bad record where it breaks, and reading stops there.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from pytest_llmguard.documents.reading import open_binary
from pytest_llmguard.documents.stream import iter_json_lines
from pytest_llmguard.exceptions import LogSourceError
from pytest_llmguard.sources.tally import Tally

__all__ = ["Item", "LogFile", "expand", "items"]

_GZIP_MAGIC = b"\x1f\x8b"
# What a folder source reads (a glob reads whatever it matches).
LOG_EXTENSIONS = tuple(
    e + z for e in (".jsonl", ".ndjson", ".json", ".log", ".txt") for z in ("", ".gz")
)
_SNIFF_BYTES = 1 << 20
DOCS = "replaying-production-logs"


@dataclass(frozen=True, slots=True)
class LogFile:
    """One file of a source: its path and how reports name it (rootdir-relative)."""

    path: str
    display: str


@dataclass(frozen=True, slots=True)
class Item:
    """One JSON object from a log file: its line (None inside a document) and its prefix.

    ``prefix`` is where a document item was found (``resourceSpans.item.scopeSpans.item.
    spans.item``); ``""`` for a whole JSONL line.
    """

    line: int | None
    prefix: str
    data: dict[str, Any]


def expand(pattern: str, rootdir: str) -> list[LogFile]:
    """The files a ``logs.sources[].path`` names (a file or a glob), sorted; error if none."""
    full = pattern if os.path.isabs(pattern) else os.path.join(rootdir, pattern)
    if any(c in pattern for c in "*?["):
        found = sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    elif os.path.isdir(full):
        found = sorted(
            os.path.join(d, f)
            for d, dirs, files in os.walk(full)
            for f in files
            if not f.startswith(".") and f.endswith(LOG_EXTENSIONS)
        )
    else:
        found = [full] if os.path.isfile(full) else []
    if not found:
        raise LogSourceError(
            f"log source {pattern!r} matches no file (paths are relative to the rootdir {rootdir})",
            docs=DOCS,
        )
    return [LogFile(p, _display(p, rootdir)) for p in found]


def _display(path: str, rootdir: str) -> str:
    rel = os.path.relpath(os.path.abspath(path), rootdir)
    return rel.replace(os.sep, "/")


def is_json_lines(file: LogFile) -> bool:
    """Whether the file is JSONL: its first non-blank line is a JSON object on its own,
    of at most ``_SNIFF_BYTES`` (a longer first line is streamed as a document)."""
    with _open(file) as stream:
        try:
            for _ in range(100):
                line = stream.readline(_SNIFF_BYTES)
                if not line:
                    return True  # empty: nothing to read either way
                text = line.strip()
                if not text:
                    continue
                whole = line.endswith(b"\n") or len(line) < _SNIFF_BYTES
                return whole and text.startswith(b"{") and _one_object(text)
        except (EOFError, OSError, zlib.error):
            return True  # a damaged file: the line reader counts what it can
    return True


def _one_object(text: bytes) -> bool:
    import json

    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _open(file: LogFile) -> BinaryIO:
    raw = open_binary(file.path, file.display, LogSourceError, buffering=1 << 20)
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def items(file: LogFile, prefixes: Sequence[str], tally: Tally, *, strict: bool) -> Iterator[Item]:
    """Every JSON object of the file: each JSONL line, or each document item at ``prefixes``."""
    if is_json_lines(file):
        lines = iter_json_lines(
            file.path, strict=strict, display=file.display, error=LogSourceError
        )
        try:
            for record in lines:
                yield Item(record.line, "", record.data)
        finally:
            tally.file_read(lines.stats)
        return
    yield from _document_items(file, prefixes, tally, strict=strict)


def _document_items(
    file: LogFile, prefixes: Sequence[str], tally: Tally, *, strict: bool
) -> Iterator[Item]:
    """The items at ``prefixes``, one ijson pass (C speed) per prefix the document has."""
    import ijson

    count = 0
    for prefix in _present(file, prefixes):
        with _open(file) as stream:
            try:
                for value in ijson.items(stream, prefix, use_float=True, multiple_values=True):
                    count += 1
                    if isinstance(value, dict):
                        yield Item(None, prefix, value)
                    else:
                        reason = f"item {count} is not a JSON object"
                        tally.bad(file.display, None, reason, strict=strict)
            except (ijson.JSONError, EOFError, zlib.error, OSError) as exc:
                reason = (
                    f"the JSON document breaks off after {count} items ({exc}); reading stopped"
                )
                tally.bad(file.display, None, reason, strict=strict)
                break
    tally.document_read(file.display, count)


def _present(file: LogFile, prefixes: Sequence[str]) -> list[str]:
    """The prefixes this document can hold: ``item`` for a top-level array, else those
    whose first key occurs in the file (a scan of the raw bytes, far cheaper than a parse;
    a key that only occurs inside some text costs a pass that finds nothing)."""
    with _open(file) as stream:
        try:
            head = stream.read(_SNIFF_BYTES).lstrip()
        except (EOFError, OSError, zlib.error):
            return list(prefixes[:1])
        if head.startswith(b"["):
            return [p for p in prefixes if p == "item"]
        keys = {p: b'"' + p.split(".", 1)[0].encode() + b'"' for p in prefixes if p != "item"}
        found: set[str] = set()
        tail = b""
        chunk = head
        while chunk and len(found) < len(keys):
            window = tail + chunk
            found.update(p for p, key in keys.items() if key in window)
            tail = window[-64:]
            try:
                chunk = stream.read(_SNIFF_BYTES)
            except (EOFError, OSError, zlib.error):
                break
    return [p for p in prefixes if p in found]
