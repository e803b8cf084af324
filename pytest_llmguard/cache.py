"""Record/replay cache of responses, keyed on the normalized request (never credentials).

One small JSON file per response under ``cache.dir`` (``ab/abcdef….json``), written
atomically, so xdist workers and concurrent runs can share a cache safely: two writers of
the same key write the same content and the last rename wins. Errors are never cached.
Cached observations keep their original timings and are flagged ``cached``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pytest_llmguard.atomic import write_atomic
from pytest_llmguard.records import Observation

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

    def __init__(self, directory: str | Path, mode: str) -> None:
        self.directory = Path(directory)
        self.mode = mode
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

    def put(self, key: str, observation: Observation) -> None:
        if observation.error is not None:
            return
        record = {"format": CACHE_FORMAT, "observation": observation.to_dict()}
        write_atomic(self._path(key), json.dumps(record, ensure_ascii=False))
