"""Drawing resampled case indices, and sharing the draws between bootstraps.

Drawing is the slowest step of a bootstrap once the data are counted, and the gate runs
many bootstraps on the same number of cases with the same seed. Inside
:func:`shared_draws` such bootstraps draw the indices once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import numpy.typing as npt

# The baseline's and the candidate's drawn case indices (the same array when paired).
Draws = tuple[npt.NDArray[Any], npt.NDArray[Any]]


def _index_dtype(n: int) -> type[np.unsignedinteger[Any]]:
    # Small index types make drawing and gathering markedly faster.
    return np.uint16 if n <= 1 << 16 else np.uint32


def draw_cases(rng: np.random.Generator, rows: int, n_cases: int) -> npt.NDArray[Any]:
    """``rows`` resamples of ``n_cases`` case indices drawn with replacement."""
    return rng.integers(0, n_cases, size=(rows, n_cases), dtype=_index_dtype(n_cases))


class DrawCache:
    """Drawn case indices kept for reuse by later bootstraps with the same draws."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.store: dict[tuple[Any, ...], Draws] = {}
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Draws]) -> Draws:
        with self.lock:
            found = self.store.get(key)
        if found is not None:
            return found
        draws = make()
        size = draws[0].nbytes + (0 if draws[1] is draws[0] else draws[1].nbytes)
        with self.lock:
            if self.used + size <= self.max_bytes:
                self.store[key] = draws
                self.used += size
        return draws


_SHARED: ContextVar[DrawCache | None] = ContextVar("_SHARED", default=None)


def active_cache() -> DrawCache | None:
    """The cache of the innermost :func:`shared_draws` block, if any."""
    return _SHARED.get()


@contextmanager
def shared_draws(max_bytes: int = 256 << 20) -> Iterator[None]:
    """Within this block, bootstraps that would draw the same case indices draw them once.

    The draws depend only on the seed, ``n_resamples``, the number of cases per side,
    pairing and the chunking (itself set by the data's shape), so reusing them changes
    no result; it saves the drawing, the slowest step once the data are counted. Up to
    ``max_bytes`` of draws are kept, until the block ends.
    """
    token = _SHARED.set(DrawCache(max_bytes))
    try:
        yield
    finally:
        _SHARED.reset(token)
