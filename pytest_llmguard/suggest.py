"""Suggestions ("did you mean ...?") for misspelled keys, names and enum values."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

# Below this similarity (0..100) a suggestion is more confusing than helpful:
# "xyz" should not suggest "model".
_MIN_SCORE = 70.0


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``word``, or None when nothing is close enough.

    A case-insensitive exact match wins outright (``Model`` → ``model``); otherwise the
    best Levenshtein ratio above a threshold. ``word`` itself is never suggested.
    """
    options = [c for c in dict.fromkeys(choices) if c != word]
    if not options:
        return None
    lowered = word.lower()
    for choice in options:
        if choice.lower() == lowered:
            return choice
    match = process.extractOne(
        lowered, options, scorer=fuzz.ratio, processor=str.lower, score_cutoff=_MIN_SCORE
    )
    return None if match is None else str(match[0])


def did_you_mean_hint(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` or an empty string, to append to a message."""
    suggestion = did_you_mean(word, choices)
    return f"; did you mean {suggestion!r}?" if suggestion is not None else ""
