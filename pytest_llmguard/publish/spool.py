"""Undelivered alerts, kept on disk until a later run delivers them.

One JSON file per message (``NNNNNN-CHANNEL.json``, written atomically), delivered in
order and removed once delivered. An alert that could not be sent is never dropped:
it waits here, and the run that spooled it says so in its exit status.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmguard.atomic import make_dirs, write_atomic

_NAME = re.compile(r"^(?P<n>\d{6})-(?P<channel>[a-z_]+)\.json$")


@dataclass(frozen=True, slots=True)
class Spooled:
    path: Path
    channel: str
    message: Mapping[str, Any]


class Spool:
    """A folder of undelivered messages."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def pending(self) -> list[Spooled]:
        """Every readable spooled message, oldest first (unreadable files are kept)."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = _NAME.match(name)
            if match is None:
                continue
            path = self.directory / name
            try:
                message = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(message, dict):
                found.append(Spooled(path, match["channel"], message))
        return found

    def add(self, channel: str, message: Mapping[str, Any]) -> Path:
        """Keep a message for a later run."""
        make_dirs(self.directory)
        numbers = [int(m["n"]) for n in os.listdir(self.directory) if (m := _NAME.match(n))]
        path = self.directory / f"{max(numbers, default=0) + 1:06d}-{channel}.json"
        write_atomic(path, json.dumps(message, ensure_ascii=False), durable=True)
        return path

    def drain(self, channel: str, deliver: Callable[[Mapping[str, Any]], bool]) -> tuple[int, int]:
        """Deliver a channel's pending messages in order, stopping at the first failure.

        Returns (delivered, still pending). Order matters: "resolved" must not overtake
        the "new drift" it resolves.
        """
        pending = [item for item in self.pending() if item.channel == channel]
        for done, item in enumerate(pending):
            if not deliver(item.message):
                return done, len(pending) - done
            with contextlib.suppress(FileNotFoundError):
                os.unlink(item.path)
        return len(pending), 0
