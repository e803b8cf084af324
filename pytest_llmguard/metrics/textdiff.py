"""Short word-level diffs of two outputs, for regressed cases in reports.

``diff_spans`` gives the diff as structured spans (``same``, ``del``, ``ins`` and ``gap``
for elided unchanged words), so each renderer marks changes in its own medium (the PR
comment with ``<del>``/``<ins>``, the HTML report with styled elements) and escapes the
words itself. ``word_diff`` writes the same diff as plain text in the ``git diff
--word-diff`` notation, for the JSON report and terminals:
``word_diff("refund within 30 days", "refund within 60 days")`` gives
``"refund within [-30-]{+60+} days"``. Long unchanged runs keep ``CONTEXT_WORDS`` words
on each side of a change.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

CONTEXT_WORDS = 3
NO_DIFFERENCE = "(no word-level differences)"
ELLIPSIS = "..."

SpanKind = Literal["same", "del", "ins", "gap"]
SPAN_KINDS: tuple[SpanKind, ...] = ("same", "del", "ins", "gap")


@dataclass(frozen=True, slots=True)
class DiffSpan:
    """One run of words of a diff: unchanged, deleted, inserted, or an elided gap."""

    kind: SpanKind
    text: str

    def to_list(self) -> list[str]:
        return [self.kind, self.text]

    @classmethod
    def from_list(cls, item: object) -> DiffSpan:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ValueError(f"a diff span is [kind, text], not {item!r}")
        kind, text = item
        if kind not in SPAN_KINDS or not isinstance(text, str):
            raise ValueError(f"unknown diff span {item!r}")
        return cls(kind, text)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 3)].rstrip() + ELLIPSIS


def _walk(a: str, b: str) -> Iterator[DiffSpan]:
    """The whole diff of ``a`` to ``b`` as spans, long unchanged runs elided."""
    words_a, words_b = a.split(), b.split()
    opcodes = difflib.SequenceMatcher(a=words_a, b=words_b, autojunk=False).get_opcodes()
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = words_a[i1:i2]
            keep_head = 0 if index == 0 else CONTEXT_WORDS
            keep_tail = 0 if index == len(opcodes) - 1 else CONTEXT_WORDS
            if len(same) > keep_head + keep_tail:
                if keep_head:
                    yield DiffSpan("same", " ".join(same[:keep_head]))
                yield DiffSpan("gap", ELLIPSIS)
                if keep_tail:
                    yield DiffSpan("same", " ".join(same[len(same) - keep_tail :]))
            else:
                yield DiffSpan("same", " ".join(same))
            continue
        if tag in ("replace", "delete"):
            yield DiffSpan("del", " ".join(words_a[i1:i2]))
        if tag in ("replace", "insert"):
            yield DiffSpan("ins", " ".join(words_b[j1:j2]))


def diff_spans(a: str, b: str, max_chars: int = 400) -> tuple[DiffSpan, ...]:
    """Word-level diff of ``a`` (baseline) to ``b`` (candidate) as spans.

    At most ``max_chars`` characters of words in all; a diff cut short ends with a
    ``gap`` span. Identical word sequences give no spans.
    """
    if a.split() == b.split():
        return ()
    spans: list[DiffSpan] = []
    room = max_chars
    for span in _walk(a, b):
        if len(span.text) > room:
            if room > 10:
                spans.append(DiffSpan(span.kind, span.text[:room].rstrip()))
            spans.append(DiffSpan("gap", ELLIPSIS))
            break
        spans.append(span)
        room -= len(span.text) + 1
    return tuple(spans)


def word_diff(a: str, b: str, max_len: int = 200) -> str:
    """Word-level diff of ``a`` (baseline) to ``b`` (candidate), at most ``max_len`` chars."""
    if a.split() == b.split():
        return NO_DIFFERENCE
    parts: list[str] = []
    previous: SpanKind | None = None
    for span in _walk(a, b):
        if span.kind == "del":
            piece = "[-" + span.text + "-]"
        elif span.kind == "ins":
            piece = "{+" + span.text + "+}"
        else:
            piece = span.text
        # a replacement is written as one token: [-old-]{+new+}
        if span.kind == "ins" and previous == "del":
            parts[-1] += piece
        else:
            parts.append(piece)
        previous = span.kind
    return _shorten(" ".join(parts), max_len)
