"""Refusal detection (English only): "I can't help with that" and its variants.

A *refusal phrase* is the assistant declining in the first person ("I can't", "I'm
unable to", "I must decline", "I'd rather not", "that's not something I can help with",
"I can only answer questions about ...", "... goes against my guidelines"). Statements
about the world or a policy ("You can't return opened items after 30 days", "We cannot
ship to PO boxes", "the app can't open files over 2 GB") are not refusals, and neither
are idioms ("I can't wait", "I cannot stress enough", "I can't recommend it enough",
"I can not only ..."), an inability for now ("I can't paint yet, but I will learn."; a
narrator in a story is not declining the request) or a refusal phrase inside quotation
marks (a character's line of dialogue).

:func:`refusal_score` grades the whole output:

- ``1.0`` full refusal: a refusal phrase and little else (fewer than
  ``PARTIAL_MIN_WORDS`` words outside the declining sentence and its "but ..." tail);
- ``0.5`` partial refusal: declines part of the request and helps with the rest
  ("I can't share the address, but here is how to contact them: ...");
- ``0.0`` no refusal.

:func:`is_refusal` is ``refusal_score(text) >= threshold`` (default 0.5: a partial
refusal counts towards ``refusal_rate``; pass ``threshold=1.0`` to count full ones only).
"""

from __future__ import annotations

import re

FULL = 1.0
PARTIAL = 0.5
NONE = 0.0
PARTIAL_MIN_WORDS = 8
DEFAULT_THRESHOLD = 0.5

_I_NEGATION = (
    r"\bi (?:really |simply |just |unfortunately |honestly )?"
    r"(?:can ?not|can't|cant|won't|will not|must decline|have to decline|must refuse|"
    r"refuse to|would rather not|do not feel comfortable|don't feel comfortable|"
    r"do not have the (?:ability|capability|access)|don't have the (?:ability|capability|access)|"
    r"am not going to|'m not going to|will have to decline|'ll have to decline)\b"
)
_I_AM = (
    r"\bi(?:'m| am) (?:really |simply |afraid i |unfortunately )?"
    r"(?:unable to|not able to|not allowed to|not permitted to|not comfortable|"
    r"not in a position to|going to have to decline|going to decline)\b"
)
_OTHER = (
    r"\bi'd rather not\b",
    r"\b(?:that's|that is|this is|it's|it is) not something i(?:'m| am)? ?"
    r"(?:can|could|am able to|'m able to|able to|allowed to|will)\b",
    r"\b(?:outside|beyond) (?:of )?"
    r"(?:what i can|the scope of what i|my (?:scope|capabilities|abilities))",
    r"\b(?:violates?|goes against|against) (?:my|our|the) (?:guidelines|usage polic(?:y|ies)|"
    r"content polic(?:y|ies)|policies|programming|principles)\b",
    r"\bi can only (?:answer|help|assist|discuss|provide|respond|talk)\b",
)
_REFUSAL_RE = re.compile("|".join((_I_NEGATION, _I_AM, *_OTHER)))

# Words right after "I can't"/"I cannot" that make it an idiom, not a refusal.
_IDIOM_NEXT = frozenset(
    {"wait", "stress", "believe", "thank", "imagine", "emphasize", "emphasise", "overstate",
     "agree", "complain", "only", "help but", "tell you how", "say enough", "remember",
     "sleep", "breathe", "afford", "stop thinking"}
)  # fmt: skip
_ENOUGH_RE = re.compile(r"^(?:\w+\W+){0,5}?enough\b")
# "I can't paint yet", "I cannot read very well yet": an inability for now, not declining.
_YET_RE = re.compile(r"^(?:[\w']+\W+){0,4}?yet\b")
# ... unless what cannot be done yet is a service to the user ("I can't help with that yet").
_SERVICE_RE = re.compile(
    r"^(?:help|assist|provide|share|do|answer|comply|process|give|offer|access|discuss|make|"
    r"create|write|generate|tell|send|book|change|cancel|show|reveal|support)\b"
)
# Quoted speech (straight or curly double quotes): dialogue, not the assistant speaking.
_QUOTED_RE = re.compile(r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d')
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_CONTRAST_RE = re.compile(r",?\s*\b(?:but|however|instead)\b")
_WORD_RE = re.compile(r"[a-z0-9']+")


def _clean(text: str) -> str:
    text = _QUOTED_RE.sub(" ", text) if '"' in text or "\u201c" in text else text
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


def _is_idiom(sentence: str, end: int) -> bool:
    rest = sentence[end:].lstrip()
    if any(rest.startswith(idiom) for idiom in _IDIOM_NEXT):
        return True
    # "I can't recommend this plan enough", "I cannot thank you enough"
    if _ENOUGH_RE.match(rest):
        return True
    return bool(_YET_RE.match(rest)) and not _SERVICE_RE.match(rest)


def _refusal_span(sentence: str) -> tuple[int, int] | None:
    for m in _REFUSAL_RE.finditer(sentence):
        if not _is_idiom(sentence, m.end()):
            return m.start(), m.end()
    return None


def refusal_score(text: str) -> float:
    """1.0 full refusal, 0.5 partial refusal, 0.0 none (see the module docstring)."""
    cleaned = _clean(text)
    if not cleaned or _REFUSAL_RE.search(cleaned) is None:
        # Any phrase a sentence holds, the whole text holds (sentences only split at
        # whitespace, which \b treats like the text's ends), so nearly every output
        # ends here without being split into sentences.
        return NONE
    sentences = [s for s in _SENTENCE_END_RE.split(cleaned) if s]
    refused = False
    other_words = 0
    for sentence in sentences:
        span = _refusal_span(sentence)
        if span is None:
            other_words += len(_WORD_RE.findall(sentence))
            continue
        refused = True
        contrast = _CONTRAST_RE.search(sentence, span[1])
        if contrast:
            other_words += len(_WORD_RE.findall(sentence[contrast.end() :]))
    if not refused:
        return NONE
    return PARTIAL if other_words >= PARTIAL_MIN_WORDS else FULL


def is_refusal(text: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True when the output refuses (partially, at the default threshold)."""
    return refusal_score(text) >= threshold
