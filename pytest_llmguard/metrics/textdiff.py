"""Short word-level diffs of two outputs, for regressed cases in reports.

``word_diff("refund within 30 days of purchase", "refund within 60 days of purchase")``
gives ``"refund within [-30-]{+60+} days of purchase"``: deletions in ``[-...-]``,
insertions in ``{+...+}`` (the ``git diff --word-diff`` notation). Long unchanged runs
keep ``CONTEXT_WORDS`` words on each side of a change and are elided with ``...``.
"""

from __future__ import annotations

import difflib

CONTEXT_WORDS = 3
NO_DIFFERENCE = "(no word-level differences)"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 3)].rstrip() + "..."


def word_diff(a: str, b: str, max_len: int = 200) -> str:
    """Word-level diff of ``a`` (baseline) to ``b`` (candidate), at most ``max_len`` chars."""
    words_a, words_b = a.split(), b.split()
    if words_a == words_b:
        return NO_DIFFERENCE
    matcher = difflib.SequenceMatcher(a=words_a, b=words_b, autojunk=False)
    opcodes = matcher.get_opcodes()
    parts: list[str] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same = words_a[i1:i2]
            first, last = index == 0, index == len(opcodes) - 1
            keep_head = 0 if first else CONTEXT_WORDS
            keep_tail = 0 if last else CONTEXT_WORDS
            if len(same) > keep_head + keep_tail:
                head = same[:keep_head]
                tail = same[len(same) - keep_tail :] if keep_tail else []
                parts.extend([*head, "...", *tail])
            else:
                parts.extend(same)
            continue
        change = ""
        if tag in ("replace", "delete"):
            change += "[-" + " ".join(words_a[i1:i2]) + "-]"
        if tag in ("replace", "insert"):
            change += "{+" + " ".join(words_b[j1:j2]) + "+}"
        parts.append(change)
    return _shorten(" ".join(parts), max_len)
