"""Hallucination indicators without an LLM judge: facts, forbidden claims, groundedness.

Both sides are normalised with :func:`~pytest_llmguard.metrics.similarity.normalize`
(so "$1,000.00" and "1000" are the same number). Numbers - and therefore dates, money
amounts, percentages and durations - must match EXACTLY: "30 days" is not supported by
"60 days". Words match fuzzily (rapidfuzz), so "receipt" is supported by "receipts".
A claim is present when its exact phrase is, or when every number (exactly) and every
content word (fuzzily; stopwords ignored) occur close together in the output - within
a window as wide as the claim plus two words each side.

Negation: a claim found in the output with a negation close before or inside it
("not", "never", "no", "don't", "can't", ...) that the claim itself does not have is
NOT present: "we do not offer a lifetime warranty" neither states the forbidden claim
"lifetime warranty" nor supports the fact "we offer a lifetime warranty".

Known limits (documented, not hidden): negation further away or implied ("refunds? Not
after 30 days") is not understood, numbers written as words ("thirty days") do not
match digits, and dates in different formats ("2024-01-15" vs "January 15, 2024") do
not match each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz, process

from pytest_llmguard.metrics.similarity import normalize

FACT_MIN = 85.0  # ratio at which an output word counts as a fact's word (0..100)
FORBIDDEN_MIN = 90.0  # stricter: a false "forbidden claim found" fails a case
WORD_MIN = 80.0  # ratio at which two words are "the same word" for groundedness
SENTENCE_SUPPORT_MIN = 0.5  # share of a sentence's content words found in the context

# Normalisation splits "don't" into "don t": the "t" after these stems is a negation.
_NEGATIONS = frozenset(["not", "no", "never", "nor", "cannot", "neither", "nobody", "nothing"])
_NEGATED_STEMS = frozenset(
    [
        "don",
        "doesn",
        "didn",
        "can",
        "won",
        "isn",
        "aren",
        "wasn",
        "weren",
        "shouldn",
        "wouldn",
        "couldn",
    ]
)
NEGATION_LOOKBACK = 3  # output words before a match that can negate it
_NUMBER_RE = re.compile(r"^\d+(?:\.\d+)*$")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_STOPWORDS_TEXT = (
    "a an the and or but if then so of to in on at by for with from as is are was "
    "were be been being it its this that these those you your we our i me my he she "
    "they them their can could will would should may might must do does did have has "
    "had not no yes please here there what which who whom how when where why also "
    "just only very about into than up out over any all some such more most other s "
    "t get got keep need make take give use know see let "
    # pleasantries are not claims
    "thanks thank hope helps help sure welcome glad happy hi hello great question "
    "questions anything else feel"
)
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def _tokens(normalized: str) -> list[str]:
    return normalized.split()


def _numbers(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if _NUMBER_RE.match(t)]


def _contains_phrase(haystack: str, needle: str) -> bool:
    return re.search(rf"(?<!\S){re.escape(needle)}(?!\S)", haystack) is not None


def _positions(word: str, out_tokens: list[str], min_score: float) -> set[int]:
    """Where ``word`` occurs in the output, exactly or fuzzily (one vectorised call)."""
    scores = process.cdist([word], out_tokens, scorer=fuzz.ratio, workers=1)[0]
    return {j for j, score in enumerate(scores) if score >= min_score}


def _has_negation(tokens: Sequence[str]) -> bool:
    return any(
        t in _NEGATIONS or (t == "t" and i > 0 and tokens[i - 1] in _NEGATED_STEMS)
        for i, t in enumerate(tokens)
    )


def _negated(out_tokens: Sequence[str], start: int, end: int) -> bool:
    """True when the output span [start, end] is negated (inside or just before it)."""
    return _has_negation(out_tokens[max(0, start - NEGATION_LOOKBACK) : end + 1])


def _phrase_spans(out_tokens: Sequence[str], claim_tokens: Sequence[str]) -> list[int]:
    n = len(claim_tokens)
    return [
        i
        for i in range(len(out_tokens) - n + 1)
        if list(out_tokens[i : i + n]) == list(claim_tokens)
    ]


def _claim_present(output: str, claim: str, min_score: float) -> bool:
    nc = normalize(claim)
    if not nc:
        return True
    no = normalize(output)
    claim_tokens = _tokens(nc)
    out_tokens = _tokens(no)
    claim_negated = _has_negation(claim_tokens)
    if _contains_phrase(no, nc):
        if claim_negated:
            return True
        spans = _phrase_spans(out_tokens, claim_tokens)
        if any(not _negated(out_tokens, i, i + len(claim_tokens) - 1) for i in spans):
            return True
    numbers = set(_numbers(claim_tokens))
    words = _content_words(claim_tokens)
    if not out_tokens:
        return False
    if not words and not numbers:  # only stopwords: nothing better than raw fuzzy
        return float(fuzz.partial_ratio(nc, no)) >= min_score
    # Every number exactly and every content word fuzzily, all within one window of the
    # output: "30 days" must not borrow the "30" of "30 minutes" elsewhere.
    spots = [{j for j, tok in enumerate(out_tokens) if tok == n} for n in numbers]
    spots += [_positions(word, out_tokens, min_score) for word in words]
    if any(not s for s in spots):
        return False
    width = len(claim_tokens) + 2
    anchor = min(spots, key=len)
    for i in anchor:
        near = [[j for j in s if abs(j - i) <= width] for s in spots]
        if all(near):
            start = min(min(n) for n in near)
            end = max(max(n) for n in near)
            if claim_negated or not _negated(out_tokens, start, end):
                return True
    return False


def fact_supported(output: str, fact: str) -> bool:
    """True when ``output`` states ``fact``: words fuzzily, numbers exactly."""
    return _claim_present(output, fact, FACT_MIN)


def unsupported_facts(output: str, facts: Sequence[str]) -> list[str]:
    """The facts ``output`` does not support, in the given order."""
    return [f for f in facts if not fact_supported(output, f)]


def forbidden_found(output: str, forbidden: Sequence[str]) -> list[str]:
    """The forbidden claims that appear in ``output`` (stricter fuzzy threshold)."""
    return [f for f in forbidden if _claim_present(output, f, FORBIDDEN_MIN)]


def _content_words(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if t not in _STOPWORDS and not _NUMBER_RE.match(t)]


def _sentence_supported(tokens: list[str], vocab: list[str], context_tokens: set[str]) -> bool:
    if not set(_numbers(tokens)) <= context_tokens:
        return False
    words = _content_words(tokens)
    if not words:
        return True
    found = 0
    for word in words:
        if word in context_tokens or process.extractOne(
            word, vocab, scorer=fuzz.ratio, score_cutoff=WORD_MIN
        ):
            found += 1
    return found / len(words) >= SENTENCE_SUPPORT_MIN


def groundedness(output: str, context: str) -> float:
    """Share (0..1) of the output's sentences supported by ``context``.

    A sentence is supported when every number in it appears in the context and at least
    ``SENTENCE_SUPPORT_MIN`` of its content words (not stopwords) appear there too,
    fuzzily. Sentences without any content word or number ("Sure!") are not counted;
    an output with none is fully grounded (1.0).
    """
    context_tokens = set(_tokens(normalize(context)))
    vocab = sorted(context_tokens)
    counted = supported = 0
    for sentence in _SENTENCE_RE.split(output):
        tokens = _tokens(normalize(sentence))
        if not _content_words(tokens) and not _numbers(tokens):
            continue
        counted += 1
        if _sentence_supported(tokens, vocab, context_tokens):
            supported += 1
    return supported / counted if counted else 1.0
