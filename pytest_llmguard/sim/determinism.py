"""Reproducible randomness: every random draw of the simulator is a hash of its inputs.

Draws never depend on process state (no ``hash()``, no shared RNG), so two servers with
the same seed answer the same requests identically, in any order and in any process.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any

_TWO_PI = 2.0 * math.pi
_TOP = float(2**64)


def unit(*parts: object) -> float:
    """A uniform number in [0, 1) determined by ``parts``."""
    key = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / _TOP


def normal(*parts: object) -> float:
    """A standard normal number determined by ``parts`` (Box-Muller on one hash)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / (_TOP + 1)  # in (0, 1]: log is finite
    u2 = int.from_bytes(digest[8:], "big") / _TOP
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


def rng(*parts: object) -> random.Random:
    """A private RNG seeded from ``parts`` (str seeds are stable across processes)."""
    return random.Random("\x1f".join(map(str, parts)))


def prompt_sha(messages: Sequence[Any]) -> str:
    """First 16 hex digits of the sha256 of the canonical messages JSON.

    Canonical: keys sorted, no whitespace, non-ASCII kept as UTF-8. The request log uses
    it so tests can find the calls of one case.
    """
    canonical = _canonical_role_content(messages)
    if canonical is None:
        canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _canonical_role_content(messages: Sequence[Any]) -> str | None:
    """The same canonical JSON, built fast for the usual ``{role, content}`` messages."""
    parts = []
    for message in messages:
        if type(message) is not dict or len(message) != 2:
            return None
        role, content = message.get("role"), message.get("content")
        if type(role) is not str or type(content) is not str:
            return None
        parts.append(f'{{"content":{encode_basestring(content)},"role":{encode_basestring(role)}}}')
    return "[" + ",".join(parts) + "]"
