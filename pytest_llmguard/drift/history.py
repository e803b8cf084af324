"""The nightly history: the drift runs of a run store, read defensively.

A night is a complete run of the store that carries a digest (``drift.night``). Runs
saved otherwise (``--llmguard-save``) are not nights and are left alone; a partial
(interrupted) night, a damaged digest, or damaged samples whose whole report cannot be
read either, are skipped with a warning: one bad file never stops the check.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from pytest_llmguard.drift.night import (
    DIGEST,
    SAMPLES,
    Digest,
    NightSamples,
    read_samples,
    samples_json,
)
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.store import RunMeta, RunRef, RunStore, load_run


@dataclass(frozen=True, slots=True)
class Night:
    """One stored night: where it is and its digest."""

    ref: RunRef
    digest: Digest

    @property
    def label(self) -> str:
        return self.ref.label


@dataclass(frozen=True)
class History:
    """Every readable night, oldest first, and what was skipped on the way."""

    nights: tuple[Night, ...]
    warnings: tuple[str, ...] = ()
    other_runs: int = 0  # complete runs of the store that are not nights

    def of_target(self, target: str, model: str | None = None) -> list[Night]:
        """The nights in which ``target`` ran (with ``model``, when given)."""
        return [
            n
            for n in self.nights
            if target in n.digest.targets
            and (model is None or n.digest.targets[target].model == model)
        ]


def load_history(store: RunStore) -> History:
    """Read every night's digest; skip (and say) what cannot be used."""
    nights: list[Night] = []
    warnings: list[str] = []
    others = 0
    for ref in store.runs():
        try:
            data = store.attachment(ref, DIGEST)
        except OSError as exc:
            warnings.append(f"{ref.label} skipped: its digest cannot be read ({exc})")
            continue
        if data is None:
            others += 0 if ref.partial else 1
            continue
        if ref.partial:
            warnings.append(f"{ref.label} skipped: an interrupted (partial) night")
            continue
        try:
            nights.append(Night(ref, Digest.from_bytes(data)))
        except SavedRunError as exc:
            warnings.append(f"{ref.label} skipped: {exc}")
    return History(tuple(nights), tuple(warnings), others)


@dataclass
class SampleReader:
    """Reads nights' observations from their samples (the whole report as a fallback)."""

    store: RunStore
    warnings: list[str] = field(default_factory=list)

    def read(self, night: Night, repeat_base: int = 0) -> NightSamples | None:
        """The night's observations, or None (with a warning) when nothing is readable.

        ``repeat_base`` is added to the repeat indexes (to pool several nights).
        """
        try:
            data = self.store.attachment(night.ref, SAMPLES)
            if data is not None:
                return read_samples(data, repeat_base)
            problem = "it has no samples"
        except (SavedRunError, OSError) as exc:
            problem = str(exc)
        try:
            run = load_run(night.ref.location, label=night.label)
        except SavedRunError as exc:
            self.warnings.append(f"{night.label} skipped: {problem}; and {exc}")
            return None
        self.warnings.append(f"{night.label}: {problem}; read from its whole report instead")
        by_target: dict[str, list[ScoredObservation]] = {}
        for s in run.scored:
            o = replace(s.observation, repeat_index=repeat_base + s.observation.repeat_index)
            by_target.setdefault(o.target, []).append(replace(s, observation=o))
        return NightSamples({k: tuple(v) for k, v in by_target.items()}, {})


def save_night(
    store: RunStore,
    document: str,
    meta: RunMeta,
    digest: Digest,
    scored: Sequence[ScoredObservation],
    fingerprints: Mapping[str, str],
) -> RunRef:
    """Store tonight: the whole report, with its digest and samples beside it."""
    return store.save(
        document,
        meta,
        attachments={DIGEST: digest.to_json(), SAMPLES: samples_json(scored, fingerprints)},
    )


def age_days(night: Night, now: float | None = None) -> float:
    """How many days ago a night ran."""
    return ((now if now is not None else time.time()) - night.digest.started_at) / 86400.0
