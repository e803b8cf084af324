"""Echo detection: an output that mostly restates the prompt instead of answering it.

Base models, and small instruction-tuned ones, often answer "What is the capital of
Japan?" with "What is the capital of Japan?". A word-set similarity then scores that echo
0.90 against "The capital of Japan is Tokyo." (the echo shares five of its six words),
and a ``contains: "capital of Japan"`` check passes on it.

The *echo score* is the share of the output's words that lie in runs of at least
``MIN_RUN`` consecutive words copied from the prompt (any message: system, user or
earlier turns), compared word by word, ignoring case and punctuation. Shorter shared runs ("of the",
"how do I") are ordinary phrasing, not restating. An output shorter than ``MIN_RUN``
words echoes only when it is the whole prompt.

=====================================  =====
"What is the capital of Japan?"        1.00
"What is the capital of Japan? Tokyo."  0.86
"The capital of Japan is Tokyo."        0.67
"Tokyo."                                0.00
=====================================  =====

:meth:`EchoFinder.remainder` is what the output adds to the prompt: the output with
those runs cut out. Scoring compares *that* with the reference, and ``contains`` /
``regex`` / ``facts`` checks look only there, for an output flagged as an echo.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

MIN_RUN = 3
DEFAULT_THRESHOLD = 0.8

_WORD_RE = re.compile(r"\S+")
# Punctuation, typographic quotes and dashes included, each becomes one space.
_TO_SPACE = str.maketrans(
    dict.fromkeys(string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026", " ")
)


def _words(text: str) -> list[str]:
    # Punctuation becomes a space one character for one, so the remainder's word spans
    # (found in the translated text) line up with the original: about 2.5x faster than
    # a \w+ regex on a loaded 2-core machine.
    return text.translate(_TO_SPACE).lower().split()


@dataclass(frozen=True, slots=True)
class Echo:
    """How much of one output restates the prompt."""

    score: float  # share of the output's words inside runs copied from the prompt
    output: str
    finder: EchoFinder

    @property
    def remainder(self) -> str:
        """The output with the copied runs cut out: what it adds to the prompt."""
        return self.finder.remainder(self.output) if self.score else self.output


class EchoFinder:
    """The runs of one prompt, built once and matched against any number of outputs."""

    __slots__ = ("_min_run", "_runs", "_whole")

    def __init__(self, prompt_texts: Iterable[str], min_run: int = MIN_RUN) -> None:
        self._min_run = min_run
        self._runs: set[tuple[str, ...]] = set()
        whole: list[str] = []
        for text in prompt_texts:  # runs never span two messages
            words = _words(text)
            whole.extend(words)
            self._runs.update(zip(*(words[k:] for k in range(min_run)), strict=False))
        self._whole = tuple(whole)

    def _covered(self, words: list[str]) -> bytearray:
        """1 for each word inside a copied run, else 0."""
        n, k = len(words), self._min_run
        covered = bytearray(n)
        if n < k:
            if n and tuple(words) == self._whole:
                covered[:] = b"\x01" * n
            return covered
        runs = self._runs
        ones = b"\x01" * k
        for i, run in enumerate(zip(*(words[j:] for j in range(k)), strict=False)):
            if run in runs:
                covered[i : i + k] = ones
        return covered

    def echo(self, output: str) -> Echo:
        """The echo score of ``output`` (its remainder is computed only when asked for)."""
        words = _words(output)
        if not words:
            return Echo(0.0, output, self)
        return Echo(self._covered(words).count(1) / len(words), output, self)

    def remainder(self, output: str) -> str:
        """``output`` with each copied run of words (and the text between them) cut out."""
        matches = list(_WORD_RE.finditer(output.translate(_TO_SPACE)))
        covered = self._covered([m.group(0).lower() for m in matches])
        pieces: list[str] = []
        at = 0
        i = 0
        while i < len(matches):
            if not covered[i]:
                i += 1
                continue
            j = i
            while j + 1 < len(matches) and covered[j + 1]:
                j += 1
            pieces.append(output[at : matches[i].start()])
            at = matches[j].end()
            i = j + 1
        pieces.append(output[at:])
        return " ".join(p.strip() for p in pieces if p.strip())


def echo_score(output: str, prompt_texts: Iterable[str]) -> float:
    """The echo score of one output against its prompt's messages (0..1)."""
    return EchoFinder(prompt_texts).echo(output).score


def is_echo(
    output: str,
    prompt_texts: Iterable[str],
    threshold: float = DEFAULT_THRESHOLD,
    reference: str | None = None,
) -> bool:
    """Whether ``output`` mostly restates the prompt (see :func:`echo_flag`)."""
    finder = EchoFinder(prompt_texts)
    return echo_flag(finder.echo(output).score, finder, threshold, reference)


def echo_flag(score: float, finder: EchoFinder, threshold: float, reference: str | None) -> bool:
    """An echo at ``threshold``, unless the reference answer restates the prompt as much.

    When the expected answer itself echoes the prompt at the threshold (extraction,
    "repeat after me"), restating is what the task asks for, and nothing is flagged.
    """
    if score < threshold:
        return False
    return reference is None or finder.echo(reference).score < threshold
