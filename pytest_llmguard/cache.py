"""Record/replay cache of responses, keyed on the normalized request (never credentials).

On disk (``cache.dir``): a few *pack* files, ``<16 hex ns time>-<pid>-<8 hex>.pack``, each
a sequence of lines ``KEY SP CRC32 SP JSON LF``: ``KEY`` the request key (64 hex), ``CRC32``
8 hex digits of the zlib CRC-32 of ``JSON``, and ``JSON`` (one line: JSON escapes every
newline) ``{"format": 1, "stored_at": UNIX_S, "observation": {...}}``. Each process that
records appends to a pack of its own, created exclusively and locked (``flock``) while it
writes, so xdist workers and concurrent runs never write the same file; every entry is one
``O_APPEND`` write, and a reader stops at the last complete line, so it never sees a torn
entry. A later line wins over an earlier one, and a pack whose name sorts later wins over
an earlier one (names start with their creation time), so ``refresh`` replaces entries.
A line whose checksum or JSON is bad is a miss. Errors are never cached. Cached
observations keep their original timings and are flagged ``cached``.

Why packs and not one file per entry: recording cost ~0.6 ms a response in file creation,
temporary files and renames (2.3 x the pytest floor at 2,000 cases), and CI carries the
cache as a tar, where 20,000 small files restore ~10 x slower than a few packs
(benchmarks/perf.py, row ``cache tar``). SQLite measured 4-20 x an append per entry.

Packs accumulate (one per recording process); when a writer opens its pack and there are
more than ``MAX_PACKS``, the oldest run of packs no one is writing (their lock is free)
is merged into one (latest entry per key, written atomically, named to sort just after
the newest pack it replaces) and the merged packs are deleted. A reader that listed a
pack that has since been merged lists again. Entries of the earlier layout
(``ab/abcdef….json``, one file each) are still read, never written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pytest_llmguard.atomic import AppendOnlyFile, utf8, write_atomic
from pytest_llmguard.records import Observation

try:
    import fcntl
except ImportError:  # Windows: no flock, so packs are never merged (always safe)
    fcntl = None  # type: ignore[assignment]

CACHE_FORMAT = 1
PACK_SUFFIX = ".pack"
MAX_PACKS = 8
_RELIST = 5  # attempts to read a consistent set of packs while others compact them

_Location = tuple[int, int, int]  # (fd, offset, length) of an entry's line without the LF


def request_key(identity: dict[str, Any], repeat_index: int) -> str:
    """Hash of the normalized request; a repeat is a distinct sample, so it is a distinct key."""
    canonical = json.dumps(
        {"v": CACHE_FORMAT, "request": identity, "repeat": repeat_index},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def pack_line(key: str, payload: bytes) -> bytes:
    """One entry as it is stored in a pack (also how tests plant damaged entries)."""
    return b"%s %08x %s\n" % (key.encode("ascii"), zlib.crc32(payload), payload)


def encode_entry(observation: Observation) -> bytes:
    record = {
        "format": CACHE_FORMAT,
        "stored_at": time.time(),
        "observation": observation.to_dict(),
    }
    return utf8(json.dumps(record, ensure_ascii=False, separators=(",", ":")))


class ResponseCache:
    """The cache for one run; ``mode`` is one of off, replay, record, refresh."""

    def __init__(self, directory: str | Path, mode: str) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self._root = os.fspath(self.directory)  # str joins: pathlib costs ~30 µs a lookup
        self._index: dict[bytes, _Location] | None = None
        self._fds: list[int] = []  # every descriptor this cache holds open, its pack's too
        self._closer = weakref.finalize(self, _close_all, self._fds)
        self._legacy = False
        self._pack: AppendOnlyFile | None = None
        self._pack_pid = 0

    def close(self) -> None:
        """Release the packs (and this process's claim on the one it writes); idempotent."""
        self._closer()
        self._index, self._pack = None, None
        self._fds = []
        self._closer = weakref.finalize(self, _close_all, self._fds)

    @property
    def reads(self) -> bool:
        return self.mode in ("replay", "record")

    @property
    def writes(self) -> bool:
        return self.mode in ("record", "refresh")

    # ---- reading ------------------------------------------------------------------------

    def get(self, key: str, *, case_key: str, target: str, repeat_index: int) -> Observation | None:
        """The stored observation for ``key`` re-labelled for this case, or None."""
        found = self._entries().get(key.encode("ascii", "replace"))
        if found is not None:
            payload = _read_payload(*found)
        elif self._legacy:
            payload = self._legacy_payload(key)
        else:
            return None
        if payload is None:
            return None
        try:
            stored = json.loads(payload)
        except (ValueError, RecursionError):
            return None  # a damaged entry is a miss; record mode will write it again
        if not isinstance(stored, dict) or stored.get("format") != CACHE_FORMAT:
            return None
        data = stored.get("observation")
        if not isinstance(data, dict):
            return None
        data.update(case_key=case_key, target=target, repeat_index=repeat_index, cached=True)
        try:
            return Observation.from_dict(data)
        except (KeyError, TypeError, ValueError):
            return None  # a damaged entry of any shape is a miss, never a crash

    def keys(self) -> Iterator[str]:
        """Every key stored (packs and the earlier layout), each once."""
        yield from (k.decode("ascii", "replace") for k in self._entries())
        for folder in self._legacy_folders():
            with contextlib.suppress(OSError):
                for name in os.listdir(folder):
                    if name.endswith(".json") and not name.startswith("."):
                        key = name[: -len(".json")]
                        if key.encode("ascii", "replace") not in self._entries():
                            yield key

    def _entries(self) -> dict[bytes, _Location]:
        if self._index is None:
            self._index = self._load_index()
            self._legacy = any(True for _ in self._legacy_folders())
        return self._index

    def _load_index(self) -> dict[bytes, _Location]:
        for _ in range(_RELIST):
            index: dict[bytes, _Location] = {}
            fds: list[int] = []
            try:
                for name in _pack_names(self._root):
                    fd = os.open(os.path.join(self._root, name), os.O_RDONLY)
                    fds.append(fd)
                    _index_pack(fd, index)
            except FileNotFoundError:  # merged away while we listed: list again
                _close_all(fds)
                continue
            self._fds.extend(fds)
            return index
        return {}  # packs keep vanishing under us: behave as an empty cache

    def _legacy_folders(self) -> Iterator[str]:
        try:
            names = os.listdir(self._root)
        except OSError:
            return
        for name in names:
            if len(name) == 2 and os.path.isdir(os.path.join(self._root, name)):
                yield os.path.join(self._root, name)

    def _legacy_payload(self, key: str) -> bytes | None:
        try:
            with open(os.path.join(self._root, key[:2], key + ".json"), "rb") as fh:
                return fh.read()
        except (OSError, ValueError):
            return None

    # ---- writing ------------------------------------------------------------------------

    def put(self, key: str, observation: Observation) -> None:
        if observation.error is not None:
            return
        line = pack_line(key, encode_entry(observation))
        pack = self._writer()
        offset = pack.append(line)
        if self._index is not None:  # later gets in this run see it
            self._index[key.encode("ascii")] = (pack.fd, offset, len(line) - 1)

    def _writer(self) -> AppendOnlyFile:
        if self._pack is not None and self._pack_pid == os.getpid():
            return self._pack
        os.makedirs(self._root, exist_ok=True)
        compact(self._root)
        name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}{PACK_SUFFIX}"
        pack = AppendOnlyFile(os.path.join(self._root, name))
        self._fds.append(pack.fd)
        if fcntl is not None:
            fcntl.flock(pack.fd, fcntl.LOCK_EX)  # "being written": compaction leaves it alone
        self._pack, self._pack_pid = pack, os.getpid()
        return pack


def compact(root: str, max_packs: int = MAX_PACKS) -> bool:
    """Merge the oldest packs no one is writing into one, if there are more than ``max_packs``.

    Only a leading run of idle packs is merged, so every pack still being written sorts
    after the merged one and its entries keep winning. One compaction at a time (a lock
    file); a busy lock means someone else is compacting: skip.
    """
    if fcntl is None or len(_pack_names(root)) <= max_packs:
        return False
    lock_fd = os.open(os.path.join(root, ".compact.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        idle: list[tuple[str, int]] = []
        for name in _pack_names(root):
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
            index: dict[bytes, _Location] = {}
            for _, fd in idle:
                _index_pack(fd, index)
            lines = (_read_line(*where) for where in index.values())
            merged = b"".join(line + b"\n" for line in lines if line and _checks_out(line))
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
            _close_all([fd for _, fd in idle])
    finally:
        os.close(lock_fd)


def _pack_names(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if n.endswith(PACK_SUFFIX) and not n.startswith("."))


def _index_pack(fd: int, index: dict[bytes, _Location]) -> None:
    """Add every complete line of the pack open on ``fd``; later lines win."""
    data = _read_all(fd)
    pos, end_of_data = 0, len(data)
    while pos < end_of_data:
        end = data.find(b"\n", pos)
        if end < 0:
            break  # the tail a writer is still appending (or was killed appending)
        space = data.find(b" ", pos, end)
        if space > pos:
            index[data[pos:space]] = (fd, pos, end - pos)
        pos = end + 1


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _read_line(fd: int, offset: int, length: int) -> bytes | None:
    try:
        line = os.pread(fd, length, offset)
    except OSError:
        return None
    return line if len(line) == length else None


def _read_payload(fd: int, offset: int, length: int) -> bytes | None:
    """The entry's JSON if its line is whole and its checksum matches, else None."""
    line = _read_line(fd, offset, length)
    return None if line is None else _checks_out(line)


def _checks_out(line: bytes) -> bytes | None:
    """The JSON of a stored line whose checksum matches, else None."""
    parts = line.split(b" ", 2)
    if len(parts) != 3:
        return None
    try:
        ok = int(parts[1], 16) == zlib.crc32(parts[2])
    except ValueError:
        return None
    return parts[2] if ok else None


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
