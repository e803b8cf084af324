"""How long stored prompts and outputs live, and erasing them on request.

- ``enforce_retention``: at the start of a run (one process, before any call), cache
  entries older than ``cache.max_age_days`` and runs beyond ``history.keep`` or older than
  ``history.max_age_days`` are removed, each by one unlink (a concurrent reader sees a
  file or no file, never half of one).
- ``purge``: ``llmguard purge``: the same on demand (``--older-than 30d``), and erasure
  (``--containing TEXT``): every cache entry, saved-run case and history record whose
  prompt or output holds the text goes; a saved run keeps its other cases and is rewritten
  atomically (document and attachments), so the history stays loadable. Only counts are
  reported, never the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmguard.cache import ResponseCache
from pytest_llmguard.config.records import Config
from pytest_llmguard.drift.night import DIGEST, SAMPLES  # a night's findings may quote outputs
from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.store import RunStore, open_store, parse_run
from pytest_llmguard.store.base import RunRef

DAY_S = 86400.0
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY_S, "w": 7 * DAY_S}


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m`` as seconds (ValueError otherwise)."""
    match = _AGE.match(text)
    if match is None:
        raise ValueError(f"not an age: {text!r} (use e.g. 30d, 12h, 2w)")
    return float(match[1]) * _UNIT_S[match[2]]


def stores_of(config: Config) -> dict[str, RunStore]:
    """The run stores of a config: the run store and (when elsewhere) the drift history."""
    stores = {"saved runs": open_store(config.history.dir, config.rootdir)}
    if config.drift_history != config.history.dir:
        stores["history"] = open_store(config.drift_history, config.rootdir)
    return stores


def cache_of(config: Config) -> ResponseCache:
    return ResponseCache(Path(config.rootdir) / config.cache.dir, config.cache.mode)


def enforce_retention(config: Config, store: RunStore, cache: ResponseCache, *, now: float) -> None:
    """The configured age and count limits, applied before a run reads or writes anything."""
    if config.cache.max_age_days is not None:
        cache.purge(older_than=now - config.cache.max_age_days * DAY_S)
    history = config.history
    if history.keep is None and history.max_age_days is None:
        return
    stores = [store]
    if config.drift_history != config.history.dir:  # the nightly runs kept apart
        stores.append(open_store(config.drift_history, config.rootdir))
    for each in stores:
        each.prune(keep=history.keep, max_age_days=history.max_age_days, now=now)


@dataclass
class PurgeCounts:
    """What one store lost: entries (cache), runs, and cases taken out of kept runs."""

    entries: int = 0
    runs: int = 0
    cases: int = 0

    def line(self, name: str) -> str:
        if name == "cache":
            return f"cache: {self.entries} entr{'y' if self.entries == 1 else 'ies'} removed"
        return f"{name}: {self.runs} run(s) removed, {self.cases} case(s) removed from kept runs"


@dataclass
class PurgeReport:
    stores: dict[str, PurgeCounts] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [counts.line(name) for name, counts in self.stores.items()]


def purge(
    config: Config, *, older_than_s: float | None, containing: str | None, now: float
) -> PurgeReport:
    """Remove what is older than ``older_than_s`` seconds and/or holds ``containing``."""
    report = PurgeReport()
    cache = cache_of(config)
    cutoff = None if older_than_s is None else now - older_than_s
    counts = report.stores["cache"] = PurgeCounts()
    counts.entries = cache.purge(older_than=cutoff) if cutoff is not None else 0
    if containing:
        counts.entries += cache.purge(containing=containing)
    for name, store in stores_of(config).items():
        counts = report.stores[name] = PurgeCounts()
        if older_than_s is not None:
            counts.runs += len(store.prune(keep=None, max_age_days=older_than_s / DAY_S, now=now))
        if containing:
            erase(store, containing, counts)
    return report


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _holds(value: Any, needle: str) -> bool:
    return any(needle in s.casefold() for s in _strings(value))


def erase(store: RunStore, containing: str, counts: PurgeCounts) -> None:
    """Every case of every stored run that holds ``containing``, taken out of its run."""
    needle = containing.casefold()
    # as JSON writes it too: a quote or a backslash in the text is escaped in the file
    forms = {needle, json.dumps(containing, ensure_ascii=False)[1:-1].casefold()}
    for ref in store.runs():
        try:
            raw = Path(ref.location).read_text(encoding="utf-8").casefold()
        except FileNotFoundError:
            continue
        if not any(f in raw for f in forms) and not _attachments_hold(store, ref, forms):
            continue  # the common case: one scan of the text, nothing parsed
        try:
            doc = json.loads(raw)
            cases = doc.get("cases")
            if not isinstance(cases, list):
                raise ValueError("no cases")
        except (ValueError, AttributeError, RecursionError):
            store.remove(ref)  # unreadable, yet it holds the text: all of it goes
            counts.runs += 1
            continue
        hit = [_holds(c, needle) for c in cases]
        gone = [c for c, h in zip(cases, hit, strict=True) if h]
        keys = {str(c.get("key")) for c in gone if isinstance(c, Mapping)}
        doc["cases"] = [c for c, h in zip(cases, hit, strict=True) if not h]
        doc["regressions"] = [
            r
            for r in doc.get("regressions") or ()
            if not _holds(r, needle) and not (isinstance(r, Mapping) and str(r.get("case")) in keys)
        ]
        note = f"purge: {len(gone)} case(s) erased on request"
        doc = _scrub(doc, containing)  # what else quotes it (drift examples, notes)
        doc["notes"] = [*(doc.get("notes") or ()), note]
        samples = store.attachment(ref, SAMPLES)
        attachments = {SAMPLES: _filter_samples(samples, needle, keys)} if samples else {}
        digest = store.attachment(ref, DIGEST)
        if digest is not None and any(
            f in digest.decode("utf-8", "replace").casefold() for f in forms
        ):
            try:
                attachments[DIGEST] = json.dumps(_scrub(json.loads(digest), containing))
            except ValueError:  # damaged (readers skip it): only the text is replaced
                attachments[DIGEST] = _scrub(digest.decode("utf-8", "replace"), containing)
        try:
            parse_run(ref.label, doc, allow_partial=True)
        except SavedRunError:
            # nothing usable is left of it (every case held the text): the run goes
            store.remove(ref)
            counts.runs += 1
            continue
        store.rewrite(ref, json.dumps(doc, ensure_ascii=False) + "\n", attachments)
        counts.cases += len(gone)


def _scrub(value: Any, text: str) -> Any:
    """``value`` with ``text`` (any case) replaced in every string it holds."""
    if isinstance(value, str):
        return re.sub(re.escape(text), "[ERASED]", value, flags=re.IGNORECASE)
    if isinstance(value, Mapping):
        return {k: _scrub(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, text) for v in value]
    return value


def _attachments_hold(store: RunStore, ref: RunRef, forms: set[str]) -> bool:
    for name in (SAMPLES, DIGEST):
        data = store.attachment(ref, name)
        text = data.decode("utf-8", "replace").casefold() if data is not None else ""
        if any(f in text for f in forms):
            return True
    return False


def _filter_samples(data: bytes, needle: str, keys: set[str]) -> str:
    """The samples attachment without the rows of erased cases or holding ``needle``."""
    try:
        doc = json.loads(data)
        for columns in doc["targets"].values():
            rows = len(columns["case"])
            drop = {
                i
                for i in range(rows)
                if columns["case"][i] in keys
                or needle in str(columns.get("output", [None] * rows)[i] or "").casefold()
            }
            for name, column in list(columns.items()):
                if isinstance(column, list) and len(column) == rows:
                    columns[name] = [v for i, v in enumerate(column) if i not in drop]
                elif isinstance(column, dict):
                    columns[name] = {
                        k: [v for i, v in enumerate(col) if i not in drop]
                        for k, col in column.items()
                    }
        return json.dumps(doc, ensure_ascii=False)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        # damaged: readers fall back to the whole report, which was rewritten
        return json.dumps({"format": -1, "targets": {}})
