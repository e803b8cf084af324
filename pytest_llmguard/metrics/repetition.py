"""Repetition: the "responses have become weirdly repetitive" signal.

:func:`repetition_score` (0..1) is the larger of two shares:

- repeated word n-grams: the share of the text's word ``N``-grams that are copies of an
  earlier n-gram (``N = 4``: 3-grams flag legitimately parallel prose such as "Paris is
  the capital of France. Berlin is the capital of Germany."). Structured lists
  ("Monday: 9am-5pm / Tuesday: 9am-5pm") have shared words but few identical 4-grams,
  so they stay low; a stuck loop ("the answer is yes yes yes yes ...") or a paragraph
  written twice scores high.
- looping sentences: the share of sentences (or list items) that repeat an earlier
  one, compared after normalisation (case, punctuation, numbering).

Short texts (fewer than ``MIN_WORDS`` words) score 0: "Thank you, thank you!" is not a
loop. :func:`is_repetitive` compares the score to a threshold (default 0.3).
"""

from __future__ import annotations

import re

N = 4
MIN_WORDS = 8
DEFAULT_THRESHOLD = 0.3

_WORD_RE = re.compile(r"\w+(?:['.]\w+)*")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+|(?<=\S)\s+(?=(?:\d+[.)]|[-*\u2022])\s)")
_ITEM_PREFIX_RE = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022]|step \d+:)\s*", re.I)


def _ngram_share(words: list[str], n: int) -> float:
    count = len(words) - n + 1
    if count < 1:
        return 0.0
    # the n-grams, without slicing each one (the shorter tails end the zip)
    grams = zip(*(words[i:] for i in range(n)), strict=False)
    return 1.0 - len(set(grams)) / count


def _sentence_share(text: str) -> float:
    sentences = []
    for raw in _SENTENCE_RE.split(text):
        words = _WORD_RE.findall(_ITEM_PREFIX_RE.sub("", raw).casefold())
        if words:
            sentences.append(" ".join(words))
    if len(sentences) < 3:
        return 0.0
    return 1.0 - len(set(sentences)) / len(sentences)


def repetition_score(text: str) -> float:
    """Share of repeated content in ``text`` (0 = none, towards 1 = a loop)."""
    words = _WORD_RE.findall(text.casefold())
    if len(words) < MIN_WORDS:
        return 0.0
    return max(_ngram_share(words, N), _sentence_share(text))


def is_repetitive(text: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when :func:`repetition_score` reaches ``threshold``."""
    return repetition_score(text) >= threshold
