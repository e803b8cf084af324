"""Record/replay cache of responses, keyed on the normalized request (never credentials).

One small JSON file per response under ``cache.dir`` (``ab/abcdef….json``), written
atomically, so xdist workers and concurrent runs can share a cache safely: two writers of
the same key write the same content and the last rename wins. Errors are never cached.
Cached observations keep their original timings and are flagged ``cached``.

With ``redact:`` the entry is stored redacted (the key is still the hash of the request as
sent, so hits work) and its observation names the kinds removed: scoring reports the checks
a redacted replay cannot re-check. An entry also keeps its (redacted) prompt, so that
``llmguard purge --containing`` can find what a user's request left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.records import Observation

if TYPE_CHECKING:
    from pytest_llmguard.privacy.redactor import Redactor

CACHE_FORMAT = 1


def request_key(identity: dict[str, Any], repeat_index: int) -> str:
    """Hash of the normalized request; a repeat is a distinct sample, so it is a distinct key."""
    canonical = json.dumps(
        {"v": CACHE_FORMAT, "request": identity, "repeat": repeat_index},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """The cache for one run; ``mode`` is one of off, replay, record, refresh."""

    def __init__(self, directory: str | Path, mode: str, redactor: Redactor | None = None) -> None:
        self.directory = Path(directory)
        self.mode = mode
        self.redactor = redactor
        self._root = os.fspath(self.directory)  # str joins: pathlib costs ~30 µs a lookup

    @property
    def reads(self) -> bool:
        return self.mode in ("replay", "record")

    @property
    def writes(self) -> bool:
        return self.mode in ("record", "refresh")

    def _path(self, key: str) -> str:
        return os.path.join(self._root, key[:2], key + ".json")

    def get(self, key: str, *, case_key: str, target: str, repeat_index: int) -> Observation | None:
        """The stored observation for ``key`` re-labelled for this case, or None."""
        try:
            with open(self._path(key), "rb") as fh:
                stored = json.loads(fh.read())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError, RecursionError):
            return None  # a damaged entry is a miss; record mode will overwrite it
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
        record = {"format": CACHE_FORMAT, "observation": observation.to_dict(), "prompt": text}
        write_atomic(self._path(key), json.dumps(record, ensure_ascii=False))

    def purge(self, *, older_than: float | None = None, containing: str | None = None) -> int:
        """Remove the entries last written before ``older_than`` (unix time), or whose prompt,
        output or error holds ``containing`` (case-insensitive); how many were removed.

        Each removal is one unlink: a concurrent run sees the entry or a miss, never half.
        """
        needle = containing.casefold() if containing else None
        removed = 0
        for path in self._entries():
            try:
                if older_than is not None and os.stat(path).st_mtime < older_than:
                    doomed = True
                elif needle is not None:
                    with open(path, "rb") as fh:
                        doomed = needle in _entry_text(fh.read()).casefold()
                else:
                    doomed = False
                if doomed:
                    os.unlink(path)
                    removed += 1
            except FileNotFoundError:
                continue  # another run removed it first
        return removed

    def _entries(self) -> list[str]:
        found: list[str] = []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for shard in os.scandir(self._root):
                if shard.is_dir() and len(shard.name) == 2:
                    found.extend(e.path for e in os.scandir(shard.path) if e.name.endswith(".json"))
        return found


def _entry_text(raw: bytes) -> str:
    """The prompt, output and error of a stored entry (all of its text if it is damaged)."""
    try:
        stored = json.loads(raw)
        obs = stored["observation"]
        error = obs.get("error") or {}
        return "\n".join(
            str(part or "")
            for part in (stored.get("prompt"), obs.get("output"), error.get("message"))
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return raw.decode("utf-8", "replace")
