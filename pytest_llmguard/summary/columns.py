"""Per-case sample values stored flat for numpy: ``SampleColumn``, and how one is built.

A RunSummary's samples read as ``{case_key: (value of repeat 0, value of repeat 1, ...)}``
mappings; stored as one flat array with case boundaries, a metric over any subset of
cases is a numpy slice, not a Python loop.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

CaseSamples = Mapping[str, tuple[float, ...]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def _frozen(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    # Columns are shared by every caller of sample_values: nobody may write into them.
    array.flags.writeable = False
    return array


class SampleColumn(Mapping[str, tuple[float, ...]]):
    """One sample's values per case, stored flat for numpy: a read-only ``CaseSamples``.

    ``case_keys`` are sorted; ``flat`` holds each key's values in turn, in repeat order;
    ``flat[starts[i]:starts[i + 1]]`` are key ``i``'s. As a mapping it reads exactly like the
    ``{case_key: (value, ...)}`` dict it replaces, so a RunSummary built by ``summarize``
    compares equal to the same summary loaded from JSON.
    """

    __slots__ = ("_floats", "_index", "_position", "case_keys", "flat", "single", "starts")

    def __init__(self, case_keys: tuple[str, ...], flat: FloatArray, starts: IntArray) -> None:
        self.case_keys = case_keys
        self.flat: FloatArray = _frozen(flat)
        self.starts: IntArray = _frozen(starts)
        self.single = flat.size == len(case_keys)
        self._position: dict[str, int] | None = None
        self._floats: list[float] | None = None
        self._index: IntArray | None = None

    @classmethod
    def from_mapping(cls, per_case: Mapping[str, Sequence[float]]) -> SampleColumn:
        """A column holding the same values as a ``{case_key: values}`` mapping."""
        if isinstance(per_case, SampleColumn):
            return per_case
        keys = tuple(sorted(per_case))
        lengths = np.fromiter((len(per_case[k]) for k in keys), dtype=np.int64, count=len(keys))
        starts = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        values = np.fromiter(
            (float(v) for k in keys for v in per_case[k]), dtype=np.float64, count=int(starts[-1])
        )
        return cls(keys, values, starts)

    @property
    def position(self) -> dict[str, int]:
        """Each key's position in ``keys``."""
        if self._position is None:
            self._position = {k: i for i, k in enumerate(self.case_keys)}
        return self._position

    @property
    def case_index(self) -> IntArray:
        """For each value, the position of its key."""
        if self._index is None:
            lengths = np.diff(self.starts)
            self._index = _frozen(
                np.repeat(np.arange(len(self.case_keys), dtype=np.int64), lengths)
            )
        return self._index

    def __getitem__(self, key: str) -> tuple[float, ...]:
        i = self.position[key]
        if self._floats is None:
            self._floats = self.flat.tolist()
        return tuple(self._floats[self.starts[i] : self.starts[i + 1]])

    def __contains__(self, key: object) -> bool:
        return key in self.position

    def __iter__(self) -> Iterator[str]:
        return iter(self.case_keys)

    def __len__(self) -> int:
        return len(self.case_keys)

    def __repr__(self) -> str:
        return f"SampleColumn({dict(self.items())!r})"

    def select(self, case_keys: Collection[str]) -> tuple[FloatArray, IntArray, tuple[str, ...]]:
        """Values, their case index and the keys indexed, for the keys present, sorted."""
        if len(case_keys) == len(self.case_keys) and (
            case_keys is self.case_keys
            or (isinstance(case_keys, (list, tuple)) and tuple(case_keys) == self.case_keys)
        ):
            return self.flat, self.case_index, self.case_keys
        position = self.position
        common = position.keys() & case_keys
        if len(common) == len(self.case_keys):
            return self.flat, self.case_index, self.case_keys
        found = sorted(map(position.__getitem__, common))
        keys = tuple(self.case_keys[i] for i in found)
        at = np.array(found, dtype=np.int64)
        if self.single:
            return self.flat[at], np.arange(at.size, dtype=np.int64), keys
        first, lengths = self.starts[at], self.starts[at + 1] - self.starts[at]
        index = np.repeat(np.arange(at.size, dtype=np.int64), lengths)
        # Position of each selected value: its key's first value plus its place in the run.
        run_start = np.cumsum(lengths) - lengths
        taken = first[index] + (np.arange(index.size, dtype=np.int64) - run_start[index])
        return self.flat[taken], index, keys


def group_by_case(
    codes: IntArray, values: FloatArray, names: Sequence[str], order: IntArray
) -> SampleColumn:
    """Values grouped by case (codes index the sorted ``names``), given their sort order."""
    sorted_codes = codes[order]
    first = np.flatnonzero(np.diff(sorted_codes)) + 1
    starts = np.concatenate(([0], first, [sorted_codes.size])).astype(np.int64)
    keys = tuple(map(names.__getitem__, sorted_codes[starts[:-1]].tolist()))
    return SampleColumn(keys, values[order], starts)


def case_order(codes: IntArray, repeats: IntArray, values: FloatArray | None) -> IntArray | None:
    """The order by case, then repeat, then value; stable, so ties keep arrival order.

    That puts every case's values in (repeat, value) order whatever order observations
    arrived in from workers, so every float sum is reproducible. Without ``values``: the
    order by (case, repeat) when no two observations share both, else None (the values
    must break the tie).
    """
    if values is not None:
        return np.lexsort((values, repeats, codes))
    order = np.lexsort((repeats, codes))
    same = (np.diff(codes[order]) == 0) & (np.diff(repeats[order]) == 0)
    return None if same.any() else order
