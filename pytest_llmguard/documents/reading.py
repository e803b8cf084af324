"""Reading a user's file into bytes or text, with one clear error for each way it fails.

Shared by the YAML and the strict JSONL loaders: a missing file, a directory, a file over
``MAX_BYTES``, UTF-16 and non-UTF-8 bytes each become one error naming the file (and the
line, where there is one).
"""

from __future__ import annotations

import codecs
import io
import os
from typing import cast

from pytest_llmguard.documents.document import E

__all__ = ["MAX_BYTES", "check_not_utf16", "decode", "open_binary", "read_bytes", "unreadable"]

# Golden sets and config files are read whole; a bigger one is almost certainly the wrong
# file (production logs go through ``stream.iter_json_lines``, which has no cap).
MAX_BYTES = 20 * 1024 * 1024


def open_binary(
    path: str, display: str, error: type[E], *, buffering: int = -1
) -> io.BufferedReader:
    """The file opened for reading bytes, or one ``error`` naming ``display``."""
    try:
        if os.path.isdir(path):
            raise error("is a directory, expected a file", file=display)
        # With buffering other than 0, a binary read is always a BufferedReader.
        return cast(io.BufferedReader, open(path, "rb", buffering=buffering))
    except OSError as exc:
        raise unreadable(exc, display, error) from None


def unreadable(exc: OSError, display: str, error: type[E]) -> E:
    """The error for a file the operating system would not open or read."""
    if isinstance(exc, FileNotFoundError):
        return error("file not found", file=display)
    return error(f"cannot read the file: {exc.strerror or exc}", file=display)


def read_bytes(path: str, display: str, error: type[E], max_bytes: int | None) -> bytes:
    """The whole file, or one ``error`` naming ``display`` (missing, a folder, too large)."""
    with open_binary(path, display, error) as fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise error(
                    f"file is too large ({size / 1e6:.1f} MB); "
                    f"the limit is {max_bytes / 1e6:.0f} MB",
                    file=display,
                    hint="split it into several files",
                )
            return fh.read()
        except OSError as exc:
            raise unreadable(exc, display, error) from None


def check_not_utf16(raw: bytes, display: str, error: type[E]) -> None:
    """Refuse UTF-16 by its BOM: decoded as UTF-8 it would fail at a confusing byte."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise error(
            "file is UTF-16 encoded; it must be UTF-8",
            file=display,
            line=1,
            hint="re-save the file as UTF-8",
        )


def decode(raw: bytes, display: str, error: type[E]) -> str:
    """UTF-8 text (a leading BOM dropped), or one ``error`` naming the bad byte's line."""
    check_not_utf16(raw, display, error)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"file is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}",
            file=display,
            line=raw.count(b"\n", 0, exc.start) + 1,
            hint="re-save the file as UTF-8",
        ) from None
