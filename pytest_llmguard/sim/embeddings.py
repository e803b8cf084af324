"""Deterministic embeddings: a feature-hashed bag of lowercased words, L2-normalised.

Texts that share words get a high cosine similarity, unrelated texts a low one. Word
hashes use blake2b, so vectors are identical across processes and runs.
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache

DEFAULT_DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit-length embedding of ``text`` (all zeros for a text without words)."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        index, sign = _slot(word, dimensions)
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        return vector
    return [round(v / norm, 6) for v in vector]


@lru_cache(maxsize=65536)
def _slot(word: str, dimensions: int) -> tuple[int, float]:
    # The sign bit keeps hash collisions from always adding up (feature hashing trick).
    h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
    return h % dimensions, 1.0 if (h >> 63) & 1 else -1.0
