"""Precision, recall and F1 of the detectors on the labelled sets in tests/data/detectors/.

Run: ``.venv/bin/python benchmarks/detectors.py`` (prints a Markdown table; ``--errors``
also lists every misclassified text).

- PII, text level: a text counts as correctly flagged when the predicted set of kinds
  equals the expected set. Overall precision = texts flagged and exactly right / texts
  flagged; recall = texts with PII and exactly right / texts with PII. Per kind: the
  usual binary precision/recall of "this kind is in the text".
- PII, span level: a predicted span is a true positive when kind and (start, end) equal
  an expected span (the expected value's first occurrence in the text).
- Refusal: binary, full and partial refusals are positives (``is_refusal``).
- Repetition: binary (``is_repetitive`` at the default threshold).
- Echo: binary (``is_echo`` at the default threshold, against the record's system and
  user messages, and its ``expected`` answer when it has one).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmguard.metrics.echo import is_echo
from pytest_llmguard.metrics.pii import PII_KINDS, find_pii
from pytest_llmguard.metrics.refusal import is_refusal
from pytest_llmguard.metrics.repetition import is_repetitive

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "detectors"


@dataclass(frozen=True, slots=True)
class Score:
    """Counts and rates of one detector (or one PII kind)."""

    name: str
    tp: int
    fp: int
    fn: int
    n: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load(name: str) -> list[dict[str, Any]]:
    """The records of one labelled JSONL file."""
    with (DATA / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _binary(name: str, truth: Sequence[bool], pred: Sequence[bool]) -> Score:
    tp = sum(t and p for t, p in zip(truth, pred, strict=True))
    fp = sum(p and not t for t, p in zip(truth, pred, strict=True))
    fn = sum(t and not p for t, p in zip(truth, pred, strict=True))
    return Score(name, tp, fp, fn, len(truth))


def pii_scores(errors: list[str] | None = None) -> list[Score]:
    """Overall text-level score, one score per kind, and the span-level score."""
    records = load("pii.jsonl")
    tp = fp = fn = 0
    per_kind: dict[str, list[tuple[bool, bool]]] = {k: [] for k in PII_KINDS}
    span_tp = span_fp = span_fn = 0
    for rec in records:
        text = rec["text"]
        expected_spans = {
            (p["kind"], text.index(p["value"]), text.index(p["value"]) + len(p["value"]))
            for p in rec["pii"]
        }
        found = find_pii(text)
        predicted_spans = {(m.kind, m.start, m.end) for m in found}
        expected = {k for k, _, _ in expected_spans}
        predicted = {m.kind for m in found}
        if predicted:
            if predicted == expected:
                tp += 1
            else:
                fp += 1
        if expected and predicted != expected:
            fn += 1
        for kind in PII_KINDS:
            per_kind[kind].append((kind in expected, kind in predicted))
        span_tp += len(expected_spans & predicted_spans)
        span_fp += len(predicted_spans - expected_spans)
        span_fn += len(expected_spans - predicted_spans)
        if errors is not None and predicted_spans != expected_spans:
            found_text = [(m.kind, text[m.start : m.end]) for m in found]
            errors.append(f"pii: expected {sorted(rec['pii'], key=str)} got {found_text}: {text}")
    scores = [Score("pii (text, kinds exact)", tp, fp, fn, len(records))]
    for kind, pairs in per_kind.items():
        truth = [t for t, _ in pairs]
        scores.append(_binary(f"pii: {kind}", truth, [p for _, p in pairs]))
    scores.append(Score("pii (span exact)", span_tp, span_fp, span_fn, len(records)))
    return scores


def _judged(
    name: str,
    records: Sequence[dict[str, Any]],
    truth: Sequence[bool],
    pred: Sequence[bool],
    errors: list[str] | None,
    label: str = "label",
) -> Score:
    """The binary score, listing each misclassified text in ``errors`` when asked."""
    if errors is not None:
        errors.extend(
            f"{name}: label={r[label]} predicted={p}: {r['text'][:120]!r}"
            for r, t, p in zip(records, truth, pred, strict=True)
            if t != p
        )
    return _binary(name, truth, pred)


def refusal_score(errors: list[str] | None = None) -> Score:
    """Binary score of ``is_refusal`` (full and partial refusals are positives)."""
    records = load("refusal.jsonl")
    truth = [r["label"] != "none" for r in records]
    return _judged("refusal", records, truth, [is_refusal(r["text"]) for r in records], errors)


def repetition_score(errors: list[str] | None = None) -> Score:
    """Binary score of ``is_repetitive`` at its default threshold."""
    records = load("repetition.jsonl")
    truth = [bool(r["label"]) for r in records]
    pred = [is_repetitive(r["text"]) for r in records]
    return _judged("repetition", records, truth, pred, errors)


def echo_score(errors: list[str] | None = None) -> Score:
    """Binary score of ``is_echo`` at its default threshold, against each record's prompt."""
    records = load("echo.jsonl")
    truth = [bool(r["label"]) for r in records]
    pred = [
        is_echo(
            r["text"], [m for m in (r.get("system"), r["prompt"]) if m], reference=r.get("expected")
        )
        for r in records
    ]
    return _judged("echo", records, truth, pred, errors)


def all_scores(errors: list[str] | None = None) -> list[Score]:
    """Every row of the table, PII first."""
    return [
        *pii_scores(errors),
        refusal_score(errors),
        repetition_score(errors),
        echo_score(errors),
    ]


def table(scores: Sequence[Score]) -> Iterator[str]:
    """Markdown table rows."""
    yield "| detector | precision | recall | F1 | TP | FP | FN | examples |"
    yield "|---|---:|---:|---:|---:|---:|---:|---:|"
    for s in scores:
        yield (
            f"| {s.name} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} "
            f"| {s.tp} | {s.fp} | {s.fn} | {s.n} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list misclassified texts")
    args = parser.parse_args()
    errors: list[str] | None = [] if args.errors else None
    scores = all_scores(errors)
    print("\n".join(table(scores)))
    if errors:
        print()
        print("\n".join(errors))


if __name__ == "__main__":
    main()
