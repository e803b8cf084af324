"""Which logged records become cases: a seeded, order-free sample in bounded memory.

- **Uniform**: each record gets a key, a hash of the seed and the record's identity
  (its ids, else its content: never its file or line); the sample is the ``n`` records
  with the smallest keys (a bottom-k sketch). That is a uniform random sample, kept in a
  heap of ``n`` records while the logs stream by, and it does not depend on the order of
  the files or of the lines: the same seed and the same records give the same sample.
- **Stratified** (``by: [model, ...]``): one heap per stratum (a combination of the
  fields' values); ``n`` is shared out in proportion to each stratum's size, every
  stratum getting at least ``min_per_stratum`` (or all it has); largest remainders
  settle the rounding.
- **Time window** (``since``, ``until``): records outside it, or without a timestamp
  when a bound is set, are counted and left out.
- **Near-duplicates** (``dedupe``: a similarity in 0..1, default 0.95): within a
  stratum, candidates are taken in key order and one whose last user message is that
  similar (rapidfuzz ``ratio``) to one already taken is dropped. Each heap keeps
  ``OVERSAMPLE`` times the records it could need, so that enough remain.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_llmguard.config.records import SampleConfig
from pytest_llmguard.sources.record import Candidate, LogRecord
from pytest_llmguard.sources.window import parse_bound

__all__ = ["OVERSAMPLE", "Sample", "allocate", "draw"]

OVERSAMPLE = 4
_COMPARED_CHARS = 2000  # of each prompt, for near-duplicates: bounds the cost per pair


@dataclass(frozen=True, slots=True)
class Sample:
    """The records drawn, and what was seen, in plain numbers for the report."""

    records: tuple[LogRecord, ...]
    seen: int  # usable records read
    outside_window: int
    duplicates: int  # near-duplicates dropped among the candidates
    strata: tuple[tuple[str, int, int], ...]  # (stratum, records in it, drawn)
    wanted: int

    def lines(self) -> list[str]:
        out = [f"sampled {len(self.records):,} of {self.seen:,} record(s)"]
        if self.outside_window:
            out.append(f"{self.outside_window:,} outside the time window (or without a time)")
        if self.duplicates:
            out.append(f"{self.duplicates:,} near-duplicate prompt(s) left out")
        if len(self.strata) > 1:
            out.append(
                "by stratum: " + ", ".join(f"{s} {taken}/{size}" for s, size, taken in self.strata)
            )
        return out


def _key(seed: int, identity: str) -> int:
    digest = hashlib.blake2b(f"{seed}\0{identity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class _Heap:
    """The ``size`` records with the smallest keys seen so far, each identity once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        self._heap: list[tuple[int, str, Candidate]] = []  # negated keys: a max-heap
        self._identities: set[str] = set()

    def offer(self, key: int, identity: str, record: Candidate) -> None:
        if identity in self._identities:
            return  # the same record twice (a duplicated export): counted once
        self.count += 1
        entry = (-key, identity, record)
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, entry)
            self._identities.add(identity)
        elif -self._heap[0][0] > key:
            dropped = heapq.heapreplace(self._heap, entry)
            self._identities.discard(dropped[1])
            self._identities.add(identity)

    def in_order(self) -> list[tuple[int, LogRecord]]:
        """The kept records, normalised, by key."""
        return [(-k, r.record()) for k, _, r in sorted(self._heap, key=lambda e: -e[0])]


def draw(
    records: Iterable[Candidate],
    settings: SampleConfig,
    *,
    now: float,
) -> Sample:
    """The sample of ``records`` that ``settings`` asks for (see the module docstring)."""
    since = parse_bound(settings.since, now) if settings.since else None
    until = parse_bound(settings.until, now) if settings.until else None
    need = settings.n * (OVERSAMPLE if settings.dedupe is not None else 1)
    heaps: dict[str, _Heap] = {}
    seen = outside = 0
    windowed = since is not None or until is not None
    by = settings.by
    seed = settings.seed
    for record in records:
        seen += 1
        if windowed and not _inside(record.started_at, since, until):
            outside += 1
            continue
        if not by:
            stratum = "all"
        elif len(by) == 1:
            stratum = record.field(by[0])
        else:
            stratum = " / ".join(record.field(f) for f in by)
        heap = heaps.get(stratum)
        if heap is None:
            heap = heaps[stratum] = _Heap(need)
        identity = record.identity
        heap.offer(_key(seed, identity), identity, record)
    distinct: dict[str, list[tuple[int, LogRecord]]] = {}
    duplicates = 0
    for stratum, heap in heaps.items():
        kept, dropped = _without_near_duplicates(heap.in_order(), settings.dedupe, settings.n)
        distinct[stratum] = kept
        duplicates += dropped
    shares = allocate(
        {s: heaps[s].count for s in heaps},
        {s: len(distinct[s]) for s in heaps},
        settings.n,
        settings.min_per_stratum,
    )
    chosen = sorted(
        (entry for s, entries in distinct.items() for entry in entries[: shares[s]]),
        key=lambda e: e[0],
    )
    return Sample(
        records=tuple(r for _, r in chosen),
        seen=seen,
        outside_window=outside,
        duplicates=duplicates,
        strata=tuple(sorted((s, heaps[s].count, shares[s]) for s in heaps)),
        wanted=settings.n,
    )


def _inside(at: float | None, since: float | None, until: float | None) -> bool:
    """Whether a record's time is in the window (a record without one is not)."""
    if at is None:
        return False
    return (since is None or at >= since) and (until is None or at <= until)


def _without_near_duplicates(
    entries: list[tuple[int, LogRecord]], threshold: float | None, n: int
) -> tuple[list[tuple[int, LogRecord]], int]:
    """Entries in key order without near-duplicate prompts (at most ``n`` kept)."""
    if threshold is None:
        return entries[:n], 0
    from rapidfuzz import fuzz, process

    kept: list[tuple[int, LogRecord]] = []
    texts: list[str] = []
    exact: set[str] = set()
    dropped = 0
    cutoff = threshold * 100.0
    for key, record in entries:
        if len(kept) >= n:
            break
        compared = _compared_text(record)
        if compared in exact or (
            texts
            and process.extractOne(compared, texts, scorer=fuzz.ratio, score_cutoff=cutoff)
            is not None
        ):
            dropped += 1
            continue
        exact.add(compared)
        texts.append(compared)
        kept.append((key, record))
    return kept, dropped


def _compared_text(record: LogRecord) -> str:
    """The last user message (else the whole prompt), normalised, for near-duplicates."""
    users = [m.content for m in record.messages if m.role == "user"]
    text = users[-1] if users else record.prompt_text
    return " ".join(text.lower().split())[:_COMPARED_CHARS]


def allocate(
    weights: Mapping[str, int], available: Mapping[str, int], n: int, minimum: int
) -> dict[str, int]:
    """How many to draw from each stratum: at least ``minimum`` (or all it has), the rest
    in proportion to ``weights`` (largest remainders), never more than ``available``."""
    shares = {s: min(minimum, available[s]) for s in weights}
    remaining = n - sum(shares.values())
    while remaining > 0:
        open_strata = {s: w for s, w in weights.items() if shares[s] < available[s]}
        if not open_strata:
            break
        total = sum(open_strata.values()) or len(open_strata)
        exact = {s: remaining * (w or 1) / total for s, w in open_strata.items()}
        given = Counter({s: min(int(v), available[s] - shares[s]) for s, v in exact.items()})
        left = remaining - sum(given.values())
        by_remainder = sorted(open_strata, key=lambda s: (-(exact[s] - int(exact[s])), s))
        for s in by_remainder:
            if left <= 0:
                break
            if shares[s] + given[s] < available[s]:
                given[s] += 1
                left -= 1
        if not +given:
            break
        for s, extra in given.items():
            shares[s] += extra
        remaining = n - sum(shares.values())
    return shares
