"""A streaming, tolerant reader of JSONL/NDJSON logs (gzip too), in constant memory.

Production logs are large (many GB), written by programs that can die mid-line, and
mostly right. So, unlike the strict golden-set loader (``jsonl.py``):

- the file is read line by line through a buffered reader, never whole, and a line
  longer than ``max_line_bytes`` is skipped without being held: memory is bounded by
  that cap, whatever the size of the file;
- gzip is recognised by its magic bytes, whatever the file is called;
- a bad line (not JSON, not UTF-8, not a JSON object, nested too deeply, too long, cut
  off at the end of the file, or where a gzip stream breaks off) is counted with its
  line number and a short reason, and reading goes on; with ``strict=True`` the first
  one raises a ``JsonLinesError`` naming file:line instead.

Usage::

    lines = iter_json_lines("logs/2024-05-01.jsonl.gz")
    for record in lines:
        replay(record.data)  # record.line: its 1-based line number
    print(lines.stats.summary())  # logs/...: 9,997 records, 3 bad lines (first: line 17: ...)
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import zlib
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, NamedTuple

from pytest_llmguard.documents.document import describe
from pytest_llmguard.documents.reading import check_not_utf16, open_binary
from pytest_llmguard.exceptions import JsonLinesError, UsageError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_SAMPLES",
    "BadLine",
    "JsonLines",
    "JsonRecord",
    "ReadStats",
    "iter_json_lines",
]

# A chat request with a long context and a few images inlined as base64 stays well under
# this; a longer line is far more likely a file that is not JSONL at all.
MAX_LINE_BYTES = 32 * 1024 * 1024
MAX_SAMPLES = 20  # bad lines kept, with their reasons, for the report

_GZIP_MAGIC = b"\x1f\x8b"
_READ_BUFFER = 1 << 20  # fewer read calls on a plain file; memory stays bounded by it
_SKIP_CHUNK = 1 << 16  # the rest of an over-long line is read and dropped in these
_NEWLINE = 10  # b"\n"[0]
_GZIP_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile)

# orjson parses these records about twice as fast as json. Every line it accepts, json
# accepts with the same value, but for one case: an integer beyond 64 bits becomes a
# float. Such an integer has 19 digits or more, so a line with 19 digits in a row
# (found by mapping every digit to "0": about half the cost of orjson's parse, and
# cheaper than writing the value back with orjson.dumps to look for "e+") goes to json.
# Lines orjson refuses (NaN, lone surrogates, huge exponents, bad lines) are all
# decided by json, so both parsers give identical records. The one difference left:
# orjson reads objects nested up to 1,024 levels, json up to Python's recursion limit
# (about 1,000, less the depth of the caller's stack).
_loads: Callable[[bytes], Any] | None
try:
    from orjson import loads as _loads
except ImportError:  # no wheel for this Python
    _loads = None
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_NUMBER = b"0" * 19


def _parser() -> Callable[[bytes], Any]:
    """The fast path: a line's value, or None where json must decide (see above)."""
    loads = _loads
    if loads is None:
        return _json_parse

    def parse(line: bytes) -> Any:
        try:
            data = loads(line)
        except ValueError:
            return None
        return None if _LONG_NUMBER in line.translate(_DIGITS_AS_ZERO) else data

    return parse


def _json_parse(line: bytes) -> Any:
    """json's value for a line, or None if it fails (``_diagnose`` says why)."""
    try:
        return json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return None


class JsonRecord(NamedTuple):
    """One good line: the file as shown, its 1-based line number, and its JSON object.

    A named tuple rather than a frozen dataclass: one is made per line, and a tuple is
    the cheapest immutable record to make.
    """

    path: str
    line: int
    data: dict[str, Any]


class BadLine(NamedTuple):
    """A line that was counted and skipped, and why (``invalid JSON: ... (column 5)``)."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ReadStats:
    """What a reader has seen so far; final once ``finished`` is true.

    ``bad_samples`` holds the first ``max_samples`` bad lines; ``bad_lines`` counts all.
    """

    path: str
    compressed: bool
    lines: int
    records: int
    blank_lines: int
    bad_lines: int
    bad_samples: tuple[BadLine, ...]
    finished: bool

    def summary(self) -> str:
        """One line for a report: ``logs/a.jsonl: 120 records, 2 bad lines (first: ...)``."""
        text = f"{self.path}: {self.records:,} record{'s' if self.records != 1 else ''}"
        if self.bad_lines:
            plural = "s" if self.bad_lines != 1 else ""
            first = self.bad_samples[0] if self.bad_samples else None
            text += f", {self.bad_lines:,} bad line{plural}"
            if first is not None:
                text += f" (first: line {first.line}: {first.reason})"
        else:
            text += ", no bad lines"
        return text if self.finished else text + " (not read to the end)"


def iter_json_lines(
    path: str | os.PathLike[str],
    *,
    strict: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_samples: int = MAX_SAMPLES,
    display: str | None = None,
    error: type[UsageError] = JsonLinesError,
) -> JsonLines:
    """The JSON objects of a JSONL/NDJSON file (plain or gzip), one ``JsonRecord`` per line.

    Blank lines are skipped; bad lines are counted in ``.stats`` (see the module
    docstring), or with ``strict=True`` the first raises one ``error`` naming file:line.
    A file that cannot be read at all (missing, a folder, UTF-16) raises ``error`` on the
    first ``next()``. ``max_line_bytes`` counts a line's bytes before its ``\n`` (a
    ``\r`` included); ``display`` is how the file is named (default: ``path``).
    """
    return JsonLines(
        path,
        strict=strict,
        max_line_bytes=max_line_bytes,
        max_samples=max_samples,
        display=display,
        error=error,
    )


class JsonLines(Iterator[JsonRecord]):
    """An iterator over the good lines of one file that keeps the tally in ``stats``.

    Use it in a ``for`` loop or a ``with`` block; ``close()`` closes the file early.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        strict: bool,
        max_line_bytes: int,
        max_samples: int,
        display: str | None,
        error: type[UsageError],
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
        self._path = os.fspath(path)
        self._display = display if display is not None else self._path
        self._strict = strict
        self._max_line_bytes = max_line_bytes
        self._max_samples = max_samples
        self._error = error
        self._compressed = False
        self._lineno = 0
        self._records = 0
        self._blank = 0
        self._bad = 0
        self._samples: list[BadLine] = []
        self._finished = False
        self._iterator = self._read()

    @property
    def stats(self) -> ReadStats:
        """The tally so far (records, blank and bad lines, the first bad lines)."""
        return ReadStats(
            path=self._display,
            compressed=self._compressed,
            lines=self._lineno,
            records=self._records,
            blank_lines=self._blank,
            bad_lines=self._bad,
            bad_samples=tuple(self._samples),
            finished=self._finished,
        )

    def __iter__(self) -> Iterator[JsonRecord]:
        # The generator itself, so that a for loop pays no Python-level __next__ a line.
        return self._iterator

    def __next__(self) -> JsonRecord:
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and close the file."""
        self._iterator.close()

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    @contextmanager
    def _open(self) -> Iterator[BinaryIO]:
        with open_binary(self._path, self._display, self._error, buffering=_READ_BUFFER) as raw:
            head = raw.peek(2)[:2]
            if head == _GZIP_MAGIC:
                self._compressed = True
                with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                    yield unzipped  # type: ignore[misc]  # a GzipFile is a binary stream
            else:
                check_not_utf16(head, self._display, self._error)
                yield raw

    def _read(self) -> Generator[JsonRecord, None, None]:
        display = self._display
        limit = self._max_line_bytes + 1
        parse = _parser()
        lineno = 0
        with self._open() as stream:
            readline = stream.readline
            try:
                while True:
                    line = readline(limit)
                    if not line:
                        break
                    lineno += 1
                    self._lineno = lineno
                    if len(line) == limit and line[-1] != _NEWLINE:
                        while line and line[-1] != _NEWLINE:
                            line = readline(_SKIP_CHUNK)
                        self._bad_line(
                            lineno,
                            f"longer than {self._max_line_bytes:,} bytes "
                            "(max_line_bytes); skipped unread",
                        )
                        continue
                    data = parse(line)
                    if type(data) is not dict:
                        data = self._diagnose(line, lineno)
                        if data is None:
                            continue
                    self._records += 1
                    yield JsonRecord(display, lineno, data)
            except _GZIP_ERRORS as exc:
                if isinstance(exc, EOFError):
                    reason = "the gzip data ends early (truncated file); reading stopped here"
                else:
                    reason = f"the gzip data is corrupt ({exc}); reading stopped here"
                self._bad_line(lineno + 1, reason)
        self._finished = True

    def _diagnose(self, line: bytes, lineno: int) -> dict[str, Any] | None:
        """json's verdict on a line the fast path did not accept: a record, or None.

        None means the line was blank or was counted as bad. Every line the fast path
        refuses comes here, so json alone decides what is a record.
        """
        cut_off = not line.endswith(b"\n")
        if lineno == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8: byte 0x{line[exc.start]:02x} at byte {exc.start + 1}"
        else:
            stripped = text.strip()
            if not stripped:
                self._blank += 1
                return None
            try:
                value = json.loads(stripped)
            except RecursionError:
                reason = "the JSON on this line is nested too deeply"
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
            else:
                if isinstance(value, dict):
                    return value
                reason = f"expected a JSON object, found {describe(value)}"
        if cut_off:
            reason += " (the file ends mid-line: truncated?)"
        self._bad_line(lineno, reason)
        return None

    def _bad_line(self, lineno: int, reason: str) -> None:
        self._bad += 1
        if len(self._samples) < self._max_samples:
            self._samples.append(BadLine(lineno, reason))
        if self._strict:
            raise self._error(reason, file=self._display, line=lineno)
