"""Find the passages that answer a question: BM25 over the paragraphs of ``docs/*.md``."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ("a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
     "get", "how", "i", "in", "is", "it", "its", "long", "my", "of", "on", "or", "take",
     "the", "to", "what", "when", "where", "which", "who", "will", "with", "you", "your")
)  # fmt: skip


@dataclass(frozen=True)
class Passage:
    source: str  # the document's file name, cited in answers
    text: str


def words(text: str) -> list[str]:
    """Lower-case word stems (a crude plural strip is enough for these documents)."""
    found = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        found.append(word[:-1] if len(word) > 4 and word.endswith("s") else word)
    return found


def load_passages(folder: Path) -> list[Passage]:
    """Every paragraph of every Markdown file in ``folder`` (headings dropped)."""
    passages = []
    for path in sorted(folder.glob("*.md")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            text = " ".join(line for line in block.splitlines() if not line.startswith("#"))
            if text.strip():
                passages.append(Passage(path.name, text.strip()))
    return passages


class Index:
    """Okapi BM25 (k1 = 1.2, b = 0.75) over passages."""

    def __init__(self, passages: list[Passage]) -> None:
        self.passages = passages
        self._terms = [Counter(words(p.text)) for p in passages]
        self._lengths = [sum(t.values()) for t in self._terms]
        self._average = sum(self._lengths) / max(len(passages), 1)
        documents = Counter(term for terms in self._terms for term in terms)
        n = len(passages)
        self._idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in documents.items()}

    def search(self, question: str, k: int) -> list[tuple[Passage, float]]:
        """The ``k`` best passages for ``question``, best first (only those that match)."""
        query = words(question)
        scored = []
        for passage, terms, length in zip(self.passages, self._terms, self._lengths, strict=True):
            score = 0.0
            for term in query:
                tf = terms.get(term, 0)
                if tf:
                    norm = tf + 1.2 * (1 - 0.75 + 0.75 * length / self._average)
                    score += self._idf[term] * tf * 2.2 / norm
            if score > 0:
                scored.append((passage, score))
        scored.sort(key=lambda hit: -hit[1])
        return scored[:k]
