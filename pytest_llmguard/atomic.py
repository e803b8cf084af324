"""Atomic file writes: a crash or kill mid-write leaves the previous file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes | str,
    *,
    durable: bool = False,
    exclusive: bool = False,
) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    ``durable`` also fsyncs the file before the rename, for files that must survive a power
    loss (baselines, history); cache entries skip it because they can always be re-recorded.
    ``exclusive`` never replaces an existing file: FileExistsError instead (a hard link
    publishes the finished file only if the name is free, so two writers cannot collide).
    """
    target = Path(path)
    make_dirs(target.parent)
    payload = utf8(data) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates 0600; the file gets the mode open() would give it (the umask's),
        # never world-writable: these files hold prompts and outputs.
        os.chmod(tmp, 0o666 & ~_umask() & ~_OTHERS_WRITE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, target)
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_OTHERS_WRITE = 0o002


def make_dirs(folder: Path) -> None:
    """``folder`` and its missing parents, with the umask's mode but never world-writable."""
    if folder.is_dir():
        return
    make_dirs(folder.parent)
    try:
        folder.mkdir(mode=0o777 & ~_OTHERS_WRITE)  # the umask applies on top
    except FileExistsError:
        if not folder.is_dir():
            raise


def append_text(path: str | os.PathLike[str], text: str) -> None:
    """Append ``text`` to ``path`` in one ``write`` on an ``O_APPEND`` descriptor.

    For files someone else owns and reads after us (GitHub's step summary): they must
    be added to, not replaced, and one append call lands whole, after whatever other
    writers appended.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)  # umask applies too
    try:
        payload = text.encode("utf-8")
        written = 0
        while written < len(payload):  # a short write (a full disk, a signal) continues
            written += os.write(fd, payload[written:])
    finally:
        os.close(fd)


class AppendOnlyFile:
    """A file created here, exclusively, and appended to by this process only.

    Every ``append`` lands as one contiguous record (``O_APPEND``, a write loop for the rare
    short write), so readers that stop at the last complete record never see a torn one. If
    a write fails half-way, a newline ends the torn record before the error is raised: a
    reader sees one damaged record (its checksum fails), never two records run together.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        # The umask applies, as for open(), but never world-writable: packs hold prompts.
        self.fd = os.open(path, flags, 0o666 & ~_OTHERS_WRITE)
        self.size = 0

    def append(self, record: bytes) -> int:
        """Append ``record``; its offset in the file."""
        offset, view, written = self.size, memoryview(record), 0
        try:
            while written < len(record):
                written += os.write(self.fd, view[written:])
        except BaseException:
            if written:
                with contextlib.suppress(OSError):
                    os.write(self.fd, b"\n")
                    self.size += 1
            self.size += written
            raise
        self.size += written
        return offset


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief, harmless window)
    os.umask(mask)
    return mask


def utf8(text: str) -> bytes:
    """``text`` as UTF-8; a lone surrogate (text that slipped through from a server's
    ``"\\ud800"``) becomes U+FFFD instead of failing the whole write."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text).encode()
