"""Time ``similarity_batch`` on 10,000 pairs of ~1 KB English-like texts (one core).

Run: ``.venv/bin/python benchmarks/similarity_speed.py [--pairs N] [--scorer NAME]``.
Texts are drawn from a Zipf-distributed 3,000-word vocabulary (like natural language) with numbers
and punctuation; each reference shares about half its words with its output.
"""

from __future__ import annotations

import argparse
import random
import time

from pytest_llmguard.metrics.similarity import DEFAULT_SCORER, SCORERS, similarity_batch

_COMMON_TEXT = (
    "the of and to a in is you that it for your on with as are be this refund order "
    "days within purchase receipt account billing plan support can will please we "
    "our shipping delivery item return policy payment card charge invoice business"
)
_COMMON = _COMMON_TEXT.split()
_SYLLABLE_TEXT = "ka re mi to su la ne po vi da ro te shi ban gor lin mar pel qua sto"
_SYLLABLES = _SYLLABLE_TEXT.split()


def _vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Common words first, then pseudo-words: about 110 distinct words per 1 KB text."""
    words = list(_COMMON)
    while len(words) < size:
        words.append("".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))))
    return words


def _text(rng: random.Random, vocab: list[str], weights: list[float], size: int = 1000) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choices(vocab, weights)[0]
        if rng.random() < 0.05:
            word = f"{rng.randint(1, 5000):,}"
        if rng.random() < 0.08:
            word += rng.choice(".,;!?")
        words.append(word.capitalize() if rng.random() < 0.05 else word)
        length += len(word) + 1
    return " ".join(words)[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--scorer", default=DEFAULT_SCORER, choices=sorted(SCORERS))
    args = parser.parse_args()
    rng = random.Random(7)
    vocab = _vocabulary(rng)
    # Zipf-like frequencies, as in natural language
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab))]
    outputs = [_text(rng, vocab, weights) for _ in range(args.pairs)]
    references = [o[:500] + _text(rng, vocab, weights, 500) for o in outputs]
    distinct = sum(len(set(o.split())) for o in outputs) / len(outputs)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        scores = similarity_batch(outputs, references, args.scorer)
        best = min(best, time.perf_counter() - start)
    print(
        f"scorer={args.scorer} pairs={args.pairs} best-of-3={best:.3f}s "
        f"pairs/s={args.pairs / best:,.0f} mean={scores.mean():.3f} "
        f"distinct-words/text={distinct:.0f}"
    )


if __name__ == "__main__":
    main()
