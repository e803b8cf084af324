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

With ``redact:`` the entry is stored redacted (the key is still the hash of the request as
sent, so hits work) and its observation names the kinds removed: scoring reports the checks
a redacted replay cannot re-check. An entry also keeps its (redacted) prompt (a
``"prompt"`` field), so that ``llmguard purge --containing`` can find what a user's request
left behind. ``purge`` (retention by ``stored_at``, erasure by content) rewrites each pack
it touches atomically, without the removed lines (``cache_packs.purge_packs``).

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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard.atomic import AppendOnlyFile, make_dirs, utf8

# the pack layout's public names, re-exported (MAX_PACKS, PACK_SUFFIX, compact, pack_line)
from pytest_llmguard.cache_packs import MAX_PACKS as MAX_PACKS
from pytest_llmguard.cache_packs import PACK_SUFFIX as PACK_SUFFIX
from pytest_llmguard.cache_packs import (
    Doomed,
    Location,
    close_all,
    index_pack,
    pack_names,
    purge_packs,
    read_payload,
)
from pytest_llmguard.cache_packs import compact as compact
from pytest_llmguard.cache_packs import pack_line as pack_line
from pytest_llmguard.records import Observation

try:
    import fcntl
except ImportError:  # Windows: no flock (see cache_packs)
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from pytest_llmguard.privacy.redactor import Redactor

CACHE_FORMAT = 1
_RELIST = 5  # attempts to read a consistent set of packs while others compact them


def request_key(identity: dict[str, Any], repeat_index: int) -> str:
    """Hash of the normalized request; a repeat is a distinct sample, so it is a distinct key."""
    canonical = json.dumps(
        {"v": CACHE_FORMAT, "request": identity, "repeat": repeat_index},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def encode_entry(observation: Observation, prompt: str = "") -> bytes:
    record = {  # format and stored_at first: purge reads the age without parsing the rest
        "format": CACHE_FORMAT,
        "stored_at": time.time(),
        "observation": observation.to_dict(),
        "prompt": prompt,
    }
    return utf8(json.dumps(record, ensure_ascii=False, separators=(",", ":")))


class ResponseCache:
    """The cache for one run; ``mode`` is one of off, replay, record, refresh."""

    def __init__(self, directory: str | Path, mode: str, redactor: Redactor | None = None) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self.redactor = redactor
        self._root = os.fspath(self.directory)  # str joins: pathlib costs ~30 µs a lookup
        self._index: dict[bytes, Location] | None = None
        self._fds: list[int] = []  # every descriptor this cache holds open, its pack's too
        self._closer = weakref.finalize(self, close_all, self._fds)
        self._legacy = False
        self._pack: AppendOnlyFile | None = None
        self._pack_pid = 0

    def close(self) -> None:
        """Release the packs (and this process's claim on the one it writes); idempotent."""
        self._closer()
        self._index, self._pack = None, None
        self._fds = []
        self._closer = weakref.finalize(self, close_all, self._fds)

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
            payload = read_payload(*found)
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

    def _entries(self) -> dict[bytes, Location]:
        if self._index is None:
            self._index = self._load_index()
            self._legacy = any(True for _ in self._legacy_folders())
        return self._index

    def _load_index(self) -> dict[bytes, Location]:
        for _ in range(_RELIST):
            index: dict[bytes, Location] = {}
            fds: list[int] = []
            try:
                for name in pack_names(self._root):
                    fd = os.open(os.path.join(self._root, name), os.O_RDONLY)
                    fds.append(fd)
                    index_pack(fd, index)
            except FileNotFoundError:  # merged away while we listed: list again
                close_all(fds)
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

    def put(self, key: str, observation: Observation, prompt: Sequence[str] = ()) -> None:
        """Store ``observation`` (redacted with ``redact:``) and its request's ``prompt``."""
        if observation.error is not None:
            return
        text = "\n".join(prompt)
        if self.redactor is not None and self.redactor.enabled:
            from pytest_llmguard.privacy.artefacts import redact_observation

            stored = self.redactor.redact(text)
            observation = redact_observation(observation, self.redactor, stored.kinds)
            text = stored.text
        line = pack_line(key, encode_entry(observation, text))
        pack = self._writer()
        offset = pack.append(line)
        if self._index is not None:  # later gets in this run see it
            self._index[key.encode("ascii")] = (pack.fd, offset, len(line) - 1)

    def _writer(self) -> AppendOnlyFile:
        if self._pack is not None and self._pack_pid == os.getpid():
            return self._pack
        make_dirs(self.directory)  # never world-writable: packs hold prompts and outputs
        compact(self._root)
        name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(4)}{PACK_SUFFIX}"
        pack = AppendOnlyFile(os.path.join(self._root, name))
        self._fds.append(pack.fd)
        if fcntl is not None:
            fcntl.flock(pack.fd, fcntl.LOCK_EX)  # "being written": compaction leaves it alone
        self._pack, self._pack_pid = pack, os.getpid()
        return pack

    # ---- removing -----------------------------------------------------------------------

    def purge(self, *, older_than: float | None = None, containing: str | None = None) -> int:
        """Remove the entries stored before ``older_than`` (unix time), or whose prompt,
        output or error holds ``containing`` (case-insensitive); how many were removed.

        Each pack that loses entries is rewritten atomically without them, and each file of
        the earlier layout is one unlink (its age: its mtime): a concurrent run sees an entry
        or a miss, never half of one. A pack a live process is still writing is left alone
        (``purge_packs``); this cache's own pack is released first, so it is not one of them
        (a later ``put`` starts a new pack).
        """
        self.close()  # our pack's lock and our index (it may point at removed lines) go
        doomed = Doomed.of(older_than, containing)
        if doomed.older_than is None and not doomed.forms:
            return 0
        removed = purge_packs(self._root, doomed)
        for folder in list(self._legacy_folders()):
            with contextlib.suppress(OSError):
                for name in os.listdir(folder):
                    if name.endswith(".json") and not name.startswith("."):
                        removed += _purge_file(os.path.join(folder, name), doomed)
        return removed


def _purge_file(path: str, doomed: Doomed) -> int:
    try:
        with open(path, "rb") as fh:
            if not doomed(fh.read(), os.fstat(fh.fileno()).st_mtime):
                return 0
        os.unlink(path)
    except FileNotFoundError:
        return 0  # another run removed it first
    return 1
