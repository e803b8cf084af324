"""The run store's interface: where saved runs, baselines and the nightly history live.

A store holds complete run documents (JSON reports with every observation), each with a
short id. ``--llmguard-save`` puts a run in, ``--llmguard-baseline latest`` (or an id, or
a commit) takes one out, ``llmguard diff`` and the drift check read them. One
implementation per module (``store/file.py`` today), chosen by ``store.open_store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pytest_llmguard.store.runs import SavedRun


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What a store needs to name and find a run, taken from the run itself."""

    started_at: float  # unix time
    commit: str | None = None
    branch: str | None = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class RunRef:
    """One stored run: its id (``0007``), where it is, and what its name says about it."""

    run_id: str
    location: str
    started_at: float
    commit: str | None
    partial: bool

    @property
    def label(self) -> str:
        """How reports name the run: ``run 0007 (abc1234)``."""
        commit = f" ({self.commit[:7]})" if self.commit else ""
        return f"run {self.run_id}{commit}"


class RunStore(Protocol):
    """Saved runs behind one small interface (atomic writes, retention, lookup by ref)."""

    location: str

    def save(
        self, document: str, meta: RunMeta, *, attachments: Mapping[str, str] | None = None
    ) -> RunRef:
        """Store a run document (JSON text) atomically; never replaces another run.

        ``attachments`` (name -> JSON text) are kept beside the run and removed with it:
        compact forms of the run that a reader needs without parsing the whole document
        (the drift check's per-night digest).
        """
        ...

    def attachment(self, ref: RunRef, name: str) -> bytes | None:
        """The bytes of a run's attachment ``name``, or None when it has none."""
        ...

    def rewrite(self, ref: RunRef, document: str, attachments: Mapping[str, str]) -> None:
        """Replace a run's document and the named attachments, each atomically (erasure)."""
        ...

    def remove(self, ref: RunRef) -> None:
        """Remove one run and its attachments."""
        ...

    def runs(self) -> list[RunRef]:
        """Every stored run, oldest first (partial runs included, flagged)."""
        ...

    def resolve(self, ref: str) -> RunRef:
        """``latest`` (newest complete run), a run id, or a commit prefix (7+ hex digits).

        SavedRunError when nothing matches.
        """
        ...

    def load(self, ref: str, *, allow_partial: bool = False) -> SavedRun:
        """The run ``ref`` names, parsed; SavedRunError if missing or damaged."""
        ...

    def prune(self, *, keep: int | None, max_age_days: float | None, now: float) -> list[RunRef]:
        """Remove runs beyond the newest ``keep`` or older than ``max_age_days``."""
        ...
