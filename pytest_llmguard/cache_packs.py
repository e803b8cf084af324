"""The pack files of the response cache: their line format, reading them, and rewriting
them (compaction, and purge by age or content).

A pack is a sequence of lines ``KEY SP CRC32 SP JSON LF`` (see ``pytest_llmguard.cache``).
Rewriting a pack never races its writer: each writer holds an ``flock`` on its own pack
for as long as it may append, and a pack is only rewritten while its lock is free, under
``.compact.lock`` (one rewriter at a time). Every rewrite is atomic (a temporary file and
a rename), so a reader sees the pack before or after, never half.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_llmguard.atomic import write_atomic

try:
    import fcntl
except ImportError:  # Windows: no flock, so packs are never merged (always safe)
    fcntl = None  # type: ignore[assignment]

PACK_SUFFIX = ".pack"
MAX_PACKS = 8
LOCK_NAME = ".compact.lock"

Location = tuple[int, int, int]  # (fd, offset, length) of an entry's line without the LF


def pack_line(key: str, payload: bytes) -> bytes:
    """One entry as it is stored in a pack (also how tests plant damaged entries)."""
    return b"%s %08x %s\n" % (key.encode("ascii"), zlib.crc32(payload), payload)


def compact(root: str, max_packs: int = MAX_PACKS) -> bool:
    """Merge the oldest packs no one is writing into one, if there are more than ``max_packs``.

    Only a leading run of idle packs is merged, so every pack still being written sorts
    after the merged one and its entries keep winning. One compaction at a time (a lock
    file); a busy lock means someone else is compacting: skip.
    """
    if fcntl is None or len(pack_names(root)) <= max_packs:
        return False
    lock_fd = os.open(os.path.join(root, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o664)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        idle: list[tuple[str, int]] = []
        for name in pack_names(root):
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                break  # being written: it and every later pack stay as they are
            idle.append((name, fd))
        try:
            if len(idle) < 2:
                return False
            index: dict[bytes, Location] = {}
            for _, fd in idle:
                index_pack(fd, index)
            lines = (read_line(*where) for where in index.values())
            merged = b"".join(line + b"\n" for line in lines if line and checks_out(line))
            newest = idle[-1][0][: -len(PACK_SUFFIX)]
            try:  # sorts after the newest merged pack and before any later one
                write_atomic(os.path.join(root, newest + "~" + PACK_SUFFIX), merged, exclusive=True)
            except FileExistsError:
                return False
            for name, _ in idle:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(root, name))
            return True
        finally:
            close_all([fd for _, fd in idle])
    finally:
        os.close(lock_fd)


@dataclass(frozen=True)
class Doomed:
    """Which stored entries a purge removes: written before ``older_than`` (unix time), or
    whose prompt, output or error holds one of ``forms`` (case-folded: the text as given,
    and as JSON escapes it, which is how a damaged entry's raw bytes hold it)."""

    older_than: float | None = None
    forms: tuple[str, ...] = ()

    @classmethod
    def of(cls, older_than: float | None, containing: str | None) -> Doomed:
        if not containing:
            return cls(older_than)
        escaped = json.dumps(containing, ensure_ascii=False)[1:-1]
        return cls(older_than, tuple({containing.casefold(), escaped.casefold()}))

    def __call__(self, raw: bytes, written: float) -> bool:
        """``raw``: an entry's JSON (or a damaged entry's bytes); ``written``: the time its
        file was last written, the age of an entry that does not say when it was stored."""
        stored: object = None
        if self.older_than is not None:
            at = _STORED_AT.match(raw)  # the format's fixed start: no parse for most lines
            if at is None:
                stored = _parse(raw)
                value = stored.get("stored_at") if isinstance(stored, Mapping) else None
                stamp = value if isinstance(value, float | int) else written
            else:
                stamp = float(at[1])
            if stamp < self.older_than:
                return True
        if not self.forms:
            return False
        raw_text = raw.decode("utf-8", "replace").casefold()
        if not any(form in raw_text for form in self.forms):
            return False  # the common case: one scan, nothing parsed
        text = _entry_text(stored if stored is not None else _parse(raw))
        found = raw_text if text is None else text.casefold()
        return any(form in found for form in self.forms)


_STORED_AT = re.compile(rb'\{"format":\d+,"stored_at":(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)[,}]')


def _parse(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _entry_text(stored: object) -> str | None:
    """The prompt, output and error of a stored entry; None if it is damaged."""
    if not isinstance(stored, Mapping) or not isinstance(stored.get("observation"), Mapping):
        return None
    obs = stored["observation"]
    error = obs.get("error") if isinstance(obs.get("error"), Mapping) else {}
    parts = (stored.get("prompt"), obs.get("output"), error.get("message"))
    return "\n".join(str(part or "") for part in parts)


def purge_packs(root: str, doomed: Doomed) -> int:
    """Rewrite every pack without the entries ``doomed`` names; how many entries went.

    Under the compaction lock, waited for (a purge is never skipped), so no compaction
    merges a pack while it is rewritten. A pack whose own lock is held is being written by
    a live process (another run, an xdist worker): it is skipped, never rewritten, since
    its writer may append at any moment and those entries would be lost; it is purged by
    the next purge or retention pass after that process ends. A rewritten pack keeps its
    name (the kept lines, in order, replace it atomically), so it still sorts where it did
    and later entries keep winning; a pack left empty is removed.
    """
    if not pack_names(root):
        return 0
    # Without flock (Windows) a live pack cannot be told from an idle one: every pack is
    # rewritten, and a concurrent writer's later entries may be lost (misses, re-recorded).
    lock_fd = os.open(os.path.join(root, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o664)
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        return sum(_purge_pack(os.path.join(root, name), doomed) for name in pack_names(root))
    finally:
        os.close(lock_fd)  # releases the lock


def _purge_pack(path: str, doomed: Doomed) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # being written by a live process: left alone (see purge_packs)
        data, written = read_all(fd), os.fstat(fd).st_mtime
        # complete lines with their LF, then a torn tail (a killed writer's) if any
        pieces = data.split(b"\n")
        lines = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
        kept = [line for line in lines if not doomed(_entry_bytes(line), written)]
        if len(kept) == len(lines):
            return 0
        if kept:
            write_atomic(path, b"".join(kept))
        else:
            os.unlink(path)
        return len(lines) - len(kept)
    finally:
        os.close(fd)


def _entry_bytes(line: bytes) -> bytes:
    """A pack line's JSON if its checksum holds, else all of it (a damaged entry)."""
    whole = line.rstrip(b"\n")
    return checks_out(whole) or whole


def pack_names(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if n.endswith(PACK_SUFFIX) and not n.startswith("."))


def index_pack(fd: int, index: dict[bytes, Location]) -> None:
    """Add every complete line of the pack open on ``fd``; later lines win."""
    data = read_all(fd)
    pos, end_of_data = 0, len(data)
    while pos < end_of_data:
        end = data.find(b"\n", pos)
        if end < 0:
            break  # the tail a writer is still appending (or was killed appending)
        space = data.find(b" ", pos, end)
        if space > pos:
            index[data[pos:space]] = (fd, pos, end - pos)
        pos = end + 1


def read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def read_line(fd: int, offset: int, length: int) -> bytes | None:
    try:
        line = os.pread(fd, length, offset)
    except OSError:
        return None
    return line if len(line) == length else None


def read_payload(fd: int, offset: int, length: int) -> bytes | None:
    """The entry's JSON if its line is whole and its checksum matches, else None."""
    line = read_line(fd, offset, length)
    return None if line is None else checks_out(line)


def checks_out(line: bytes) -> bytes | None:
    """The JSON of a stored line whose checksum matches, else None."""
    parts = line.split(b" ", 2)
    if len(parts) != 3:
        return None
    try:
        ok = int(parts[1], 16) == zlib.crc32(parts[2])
    except ValueError:
        return None
    return parts[2] if ok else None


def close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
