"""Silent changes: did tonight's outputs move away from the same cases' earlier outputs?

For a pinned model (same target, same model name), each case has one output per night:
tonight's and those of the reference nights. The distance of two outputs is the
normalised Indel distance (``1 - similarity``, 0..1). Each night's output gets its mean
distance to the case's other outputs; tonight is **extreme** for a case when its mean
distance is strictly the largest of all the case's nights.

Why this is a test with a known false-alarm rate: if nothing changed, tonight is just
another night, the case's outputs are exchangeable, and the chance that tonight is
strictly the most distant of ``G`` nights is at most ``1 / G`` -- whatever the case's
own variability. A case that always answers the same never counts (its nights tie), and
a naturally variable case is extreme only as often as any of its nights. Over cases
(answered independently) the number of extreme cases is then at most a sum of
Bernoulli(``1 / G_c``) trials, and its exact tail (Poisson-binomial) is the p-value. The
check calls it a silent change when the p-value is below ``drift.output.alpha``
(default 0.001: one false alarm in a thousand nights). Only cases whose outputs are not
all identical are counted, which is valid because the test holds given the set of
outputs; a case whose prompt changed (another fingerprint) is not compared.

The cases reported are the extreme ones whose tonight's distance exceeds their own
largest reference distance the most, with the newest reference output as "before".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Indel

from pytest_llmguard.drift.findings import MovedCase
from pytest_llmguard.metrics.textdiff import word_diff
from pytest_llmguard.records import ScoredObservation
from pytest_llmguard.stats.significance import poisson_binomial_sf

OutputsByCase = Mapping[str, str]  # case key -> the night's first successful output


def first_outputs(scored: Sequence[ScoredObservation]) -> dict[str, str]:
    """Each case's output of its lowest repeat that succeeded."""
    found: dict[str, tuple[int, str]] = {}
    for s in scored:
        o = s.observation
        if o.output is None or o.error is not None:
            continue
        seen = found.get(o.case_key)
        if seen is None or o.repeat_index < seen[0]:
            found[o.case_key] = (o.repeat_index, o.output)
    return {k: v for k, (_, v) in found.items()}


@dataclass(frozen=True, slots=True)
class OutputTest:
    """The silent-change test of one night."""

    compared: int  # cases with tonight's output and enough reference outputs
    informative: int  # of those, cases whose outputs were not all identical
    extreme: int  # cases where tonight was strictly the most distant
    expected: float  # how many extreme cases chance alone gives on average
    p_value: float
    alpha: float
    moved: tuple[MovedCase, ...]

    @property
    def changed(self) -> bool:
        return self.p_value < self.alpha

    def describe(self) -> str:
        return (
            f"tonight's output was the most distant of its nights for {self.extreme} of "
            f"{self.informative} cases whose outputs vary ({self.compared} compared; "
            f"{self.expected:.1f} expected by chance; p = {self.p_value:.2g}, "
            f"alarm below {self.alpha:g})"
        )


def _mean_distances(outputs: Sequence[str]) -> list[float]:
    """Each output's mean distance to the others (identical texts computed once)."""
    unique = list(dict.fromkeys(outputs))
    index = {text: i for i, text in enumerate(unique)}
    k = len(unique)
    matrix = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1, k):
            matrix[i][j] = matrix[j][i] = Indel.normalized_distance(unique[i], unique[j])
    counts = Counter(index[t] for t in outputs)
    n = len(outputs)
    means = []
    for text in outputs:
        i = index[text]
        total = sum(matrix[i][j] * c for j, c in counts.items())
        means.append(total / (n - 1))
    return means


def output_test(
    tonight: OutputsByCase,
    reference: Sequence[OutputsByCase],
    *,
    alpha: float,
    min_reference: int,
    top: int,
) -> OutputTest:
    """Test whether tonight's outputs moved (``reference``: newest night first)."""
    compared = 0
    extreme_cases: list[tuple[float, float, float, str, str, str]] = []
    chances: Counter[float] = Counter()
    for key, after in tonight.items():
        earlier = [night[key] for night in reference if key in night]
        if len(earlier) < min_reference:
            continue
        compared += 1
        if all(text == after for text in earlier):
            continue  # identical every night: no evidence either way
        means = _mean_distances([after, *earlier])
        chances[1.0 / len(means)] += 1
        usual = max(means[1:])
        if means[0] > usual + 1e-12:
            typical = sum(means[1:]) / len(earlier)
            extreme_cases.append((means[0] - usual, means[0], typical, key, earlier[0], after))
    informative = sum(chances.values())
    expected = sum(p * n for p, n in chances.items())
    p_value = poisson_binomial_sf(len(extreme_cases), dict(chances)) if informative else 1.0
    extreme_cases.sort(key=lambda c: (-c[0], -c[1], c[3]))
    moved = tuple(
        MovedCase(key, score, distance, typical, before, after, word_diff(before, after))
        for score, distance, typical, key, before, after in extreme_cases[:top]
    )
    return OutputTest(
        compared=compared,
        informative=informative,
        extreme=len(extreme_cases),
        expected=expected,
        p_value=p_value,
        alpha=alpha,
        moved=moved,
    )
