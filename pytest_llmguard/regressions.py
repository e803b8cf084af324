"""The worst regressed cases of a comparison, with a short word diff of the two outputs.

A case regressed when the baseline passed and the candidate did not, or when the
candidate's similarity to the reference dropped clearly. Reports show the worst few,
so a reviewer sees *what* changed, not only that a metric moved.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmguard.metrics.similarity import pair_similarity
from pytest_llmguard.metrics.textdiff import diff_spans, word_diff
from pytest_llmguard.outcome import CaseRegression
from pytest_llmguard.records import ScoredObservation

SIMILARITY_DROP = 0.05  # below this drop in similarity-to-reference a case is not "regressed"


def _first(scored: Sequence[ScoredObservation]) -> dict[str, ScoredObservation]:
    """Each case's first repeat (repeat 0), by case key."""
    firsts: dict[str, ScoredObservation] = {}
    for s in sorted(scored, key=lambda s: s.observation.repeat_index):
        firsts.setdefault(s.observation.case_key, s)
    return firsts


def find_regressions(
    baseline: Sequence[ScoredObservation],
    candidate: Sequence[ScoredObservation],
    limit: int = 5,
) -> tuple[CaseRegression, ...]:
    """The ``limit`` worst regressed cases: newly failing first, then by similarity drop."""
    base, cand = _first(baseline), _first(candidate)
    ranked: list[tuple[float, CaseRegression]] = []
    for key, c in cand.items():
        b = base.get(key)
        if b is None or b.observation.output is None:
            continue
        b_sim = b.scores.get("similarity")
        c_sim = c.scores.get("similarity")
        drop = (b_sim - c_sim) if b_sim is not None and c_sim is not None else 0.0
        if b.passed and not c.passed:
            failed = [ch for ch in c.checks if not ch.passed]
            reason = "now fails: " + "; ".join(ch.detail for ch in failed)
            rank = 10.0 + drop
        elif drop >= SIMILARITY_DROP:
            reason = f"similarity to the reference fell {drop:.2f} ({b_sim:.2f} → {c_sim:.2f})"
            rank = drop
        else:
            continue
        before, after = b.observation.output, c.observation.output or ""
        ranked.append(
            (
                rank,
                CaseRegression(
                    case_key=key,
                    reason=reason,
                    baseline_output=before,
                    candidate_output=after,
                    output_similarity=pair_similarity(before, after),
                    diff=word_diff(before, after),
                    spans=diff_spans(before, after),
                ),
            )
        )
    ranked.sort(key=lambda r: (-r[0], r[1].case_key))
    return tuple(r for _, r in ranked[:limit])
