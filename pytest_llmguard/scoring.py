"""The stage Observation -> ScoredObservation: quality scores, then the case's checks.

Scores of a successful call (all 0..1 unless said otherwise; None = not applicable):

- ``similarity``: to the case's ``expected`` (None without one), one batch for all outputs;
- ``hallucination``: 1.0 when a ``facts`` entry is unsupported, a ``forbidden`` claim
  appears, or (with ``context``) ``groundedness`` is below ``groundedness_min``; else 0.0;
  None when the case has no facts, forbidden claims or context;
- ``groundedness``: share of output sentences supported by ``context`` (None without);
- ``pii``: 1.0 when the output contains PII of any kind, else 0.0;
- ``refusal``: 1.0 when the output is a refusal at ``refusal.threshold``, or the provider
  reported a refusal as the finish reason (Anthropic's ``stop_reason: refusal``); else 0.0;
- ``repetition``: the repetition score (0..1); ``repetitive``: 1.0 when it reaches
  ``repetition.threshold``, else 0.0 (``repetition_rate`` is the mean of ``repetitive``);
- ``echo``: the share of the output restating the prompt (``metrics.echo``); ``echoed``:
  1.0 when it reaches ``echo.threshold`` and the reference does not restate the prompt
  as much, else 0.0 (``echo_rate``). An echoed output's similarity compares only what
  it adds to the prompt, and its ``contains``/``regex``/``facts`` checks look only there;
- ``output_chars``: length of the output in characters (not 0..1);
  ``empty``: 1.0 when the output is empty or only whitespace;
- ``judge``: the LLM judge's score (0..1) when ``quality.judge`` is configured and the
  judge answered (``judge_scores`` from :func:`pytest_llmguard.judge.judge_outputs`).

A failed call (``observation.error`` set, or no output) gets every score None and one
check ``CheckResult("call", False, "<error class>: <message>")``.

The ``quality`` configuration (all keys optional)::

    quality:
      similarity:
        scorer: token_set_ratio   # | token_sort_ratio | ratio | partial_ratio | WRatio
        normalize: true           # case, whitespace, punctuation, number formats
        embeddings:               # optional: blend in cosine similarity of embeddings
          target: baseline        # a configured target whose endpoint serves /embeddings
          model: text-embedding-3-small
          weight: 0.3             # 0..1 share of the cosine in the blended similarity
      hallucination:
        groundedness_min: 0.6     # 0..1
      refusal:
        threshold: 0.5            # 0..1; 0.5 counts partial refusals, 1.0 full ones only
      repetition:
        threshold: 0.3            # 0..1
      echo:
        threshold: 0.8            # 0..1 share of the output restating the prompt
      judge:                      # optional LLM-as-judge; its calls are costed separately
        target: grader            # a configured target (any provider)
        rubric: "Is the answer correct and helpful?"
        model: gpt-4o-mini        # optional: override the target's model
        min: 0.7                  # optional: every case without its own `judge` check
                                  # fails when the judge's score is below this

``config.quality`` validates that mapping into ``QualitySettings`` (and holds its schema).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from pytest_llmguard.checks import evaluate_checks
from pytest_llmguard.config.records import QualitySettings
from pytest_llmguard.metrics import repetition as repetition_metric
from pytest_llmguard.metrics.echo import Echo, EchoFinder, echo_flag
from pytest_llmguard.metrics.hallucination import forbidden_found, groundedness, unsupported_facts
from pytest_llmguard.metrics.pii import find_pii, redact
from pytest_llmguard.metrics.refusal import is_refusal
from pytest_llmguard.metrics.similarity import pair_similarity, similarity_batch
from pytest_llmguard.privacy.replay import not_recheckable
from pytest_llmguard.records import Case, Check, CheckResult, Observation, ScoredObservation

SCORE_NAMES: tuple[str, ...] = (
    "similarity",
    "hallucination",
    "groundedness",
    "pii",
    "refusal",
    "repetition",
    "repetitive",
    "echo",
    "echoed",
    "output_chars",
    "empty",
    "similarity_embedding",
    "judge",
)

# Finish (stop) reasons by which a provider reports that the model refused: Anthropic's
# ``stop_reason: refusal``.
REFUSAL_FINISH_REASONS = frozenset({"refusal"})

Embedder = Callable[[Sequence[str]], "Sequence[Sequence[float]] | None"]


def _cosines(vectors: Sequence[Sequence[float]], n: int) -> list[float] | None:
    """Cosine of output i (vectors[i]) with reference i (vectors[n + i]), clipped to 0..1.

    None when the vectors cannot be compared (unequal lengths, non-finite values): the
    embeddings client says why; a NaN must not silently score as 0.
    """
    try:
        matrix = np.asarray(vectors, dtype=np.float64)
    except (ValueError, TypeError):  # "inhomogeneous shape": vectors of unequal lengths
        return None
    if matrix.ndim != 2 or matrix.shape[0] != 2 * n or not np.isfinite(matrix).all():
        return None
    outs, refs = matrix[:n], matrix[n:]
    norms = np.linalg.norm(outs, axis=1) * np.linalg.norm(refs, axis=1)
    dots = np.einsum("ij,ij->i", outs, refs)
    cos = np.divide(dots, norms, out=np.zeros(n), where=norms > 0)
    return [float(c) for c in np.clip(cos, 0.0, 1.0)]


def _judge_check(case: Case, settings: QualitySettings) -> Case:
    """``case`` with the default ``judge`` check of ``quality.judge.min`` when it has none."""
    judge = settings.judge
    if judge is None or judge.min_score is None or any(c.kind == "judge" for c in case.checks):
        return case
    return replace(case, checks=(*case.checks, Check("judge", {"min": judge.min_score})))


def _scoring_failed(
    observation: Observation, exc: Exception, similarity: float | None
) -> ScoredObservation:
    """One output that broke a scorer or a check: that case fails, the batch goes on."""
    detail = redact(f"scoring error: {type(exc).__name__}: {exc}")
    scores: dict[str, float | None] = dict.fromkeys(SCORE_NAMES)
    scores["similarity"] = similarity
    return ScoredObservation(
        observation=observation,
        checks=(CheckResult("scoring", False, detail[:300]),),
        scores=scores,
    )


def _similarities(
    outputs: list[str], references: list[str], settings: QualitySettings
) -> list[float | None]:
    """Similarity of each pair in one batch; pair by pair if the batch fails (one odd
    output must not cost every case its score)."""
    try:
        values = similarity_batch(
            outputs, references, settings.scorer, normalize=settings.normalize
        )
        return [float(v) for v in values]
    except Exception:  # which pair broke it is found below
        pass
    found: list[float | None] = []
    for out, ref in zip(outputs, references, strict=True):
        try:
            found.append(pair_similarity(out, ref, settings.scorer, normalize=settings.normalize))
        except Exception:  # this pair gets no score; its checks say so
            found.append(None)
    return found


def _failed(observation: Observation) -> ScoredObservation:
    if observation.error is not None:
        detail = f"{observation.error.cls}: {observation.error.message}"
    else:
        detail = "invalid_response: the call returned no output text"
    return ScoredObservation(
        observation=observation,
        checks=(CheckResult("call", False, detail),),
        scores=dict.fromkeys(SCORE_NAMES),
    )


def _claims(case: Case) -> tuple[list[str], list[str]]:
    facts: list[str] = []
    forbidden: list[str] = []
    for check in case.checks:
        if check.kind == "facts":
            facts.extend(check.arg)
        elif check.kind == "forbidden":
            forbidden.extend(check.arg)
    return facts, forbidden


def _scores(
    case: Case,
    output: str,
    similarity: float | None,
    settings: QualitySettings,
    echo: Echo,
    echoed: bool,
) -> dict[str, float | None]:
    facts, forbidden = _claims(case)
    grounded = groundedness(output, case.context) if case.context else None
    hallucination: float | None = None
    if facts or forbidden or grounded is not None:
        answer = echo.remainder if echoed else output  # an echo does not state the prompt's facts
        bad = (
            bool(unsupported_facts(answer, facts))
            or bool(forbidden_found(output, forbidden))
            or (grounded is not None and grounded < settings.groundedness_min)
        )
        hallucination = 1.0 if bad else 0.0
    repetition = repetition_metric.repetition_score(output)
    return {
        "similarity": similarity,
        "hallucination": hallucination,
        "groundedness": grounded,
        "pii": 1.0 if find_pii(output) else 0.0,
        "refusal": 1.0 if is_refusal(output, settings.refusal_threshold) else 0.0,
        "repetition": repetition,
        "repetitive": 1.0 if repetition >= settings.repetition_threshold else 0.0,
        "echo": echo.score,
        "echoed": 1.0 if echoed else 0.0,
        "output_chars": float(len(output)),
        "empty": 0.0 if output.strip() else 1.0,
    }


def score_batch(
    cases: Sequence[Case],
    observations: Sequence[Observation],
    settings: QualitySettings,
    *,
    embed: Embedder | None = None,
    judge_scores: Sequence[float | None] | None = None,
    judge_reasons: Sequence[str | None] | None = None,
) -> list[ScoredObservation]:
    """Score every observation and evaluate its case's checks, in input order.

    Observations are matched to cases by ``case.key`` (so one case may have several
    observations: repeats, targets). Similarity to ``expected`` is computed in one batch.
    With ``embed`` (texts → vectors, or None when unavailable) and embeddings configured,
    the similarity blends in the embeddings' cosine: ``(1 - weight) * fuzzy + weight * cos``.
    ``judge_scores`` and ``judge_reasons`` (aligned with ``observations``) are the LLM
    judge's verdicts: they become ``scores["judge"]`` and the detail of ``judge`` checks.
    With ``quality.judge.min``, a judged output whose case has no ``judge`` check gets one.
    """
    by_key = {case.key: case for case in cases}
    missing = [o.case_key for o in observations if o.case_key not in by_key]
    if missing:
        raise ValueError(f"observation for unknown case {missing[0]!r}")
    for name, given in (("judge_scores", judge_scores), ("judge_reasons", judge_reasons)):
        if given is not None and len(given) != len(observations):
            raise ValueError(f"{name} has {len(given)} items for {len(observations)} observations")

    finders: dict[str, EchoFinder] = {}
    echoes: dict[int, tuple[Echo, bool]] = {}
    pending: list[int] = []
    outputs: list[str] = []
    references: list[str] = []
    for i, obs in enumerate(observations):
        if not obs.ok or obs.output is None:
            continue
        case = by_key[obs.case_key]
        finder = finders.get(case.key)
        if finder is None:
            finder = finders[case.key] = EchoFinder(m.content for m in case.messages)
        echo = finder.echo(obs.output)
        echoed = echo_flag(echo.score, finder, settings.echo_threshold, case.expected)
        echoes[i] = (echo, echoed)
        if case.expected is not None:
            pending.append(i)
            # Echoed prompt text earns no similarity: compare what the output adds.
            outputs.append(echo.remainder if echoed else obs.output)
            references.append(case.expected)
    similarity: dict[int, float | None] = {}
    if pending:
        similarity = dict(zip(pending, _similarities(outputs, references, settings), strict=True))
    cosine: dict[int, float] = {}
    if pending and embed is not None and settings.embeddings_target is not None:
        vectors = embed(outputs + references)
        cosines = _cosines(vectors, len(pending)) if vectors is not None else None
        if cosines is not None:
            cosine = dict(zip(pending, cosines, strict=True))
            w = settings.embeddings_weight
            similarity = {
                i: None if (fuzzy := similarity[i]) is None else (1 - w) * fuzzy + w * cosine[i]
                for i in pending
            }

    scored = []
    for i, obs in enumerate(observations):
        if not obs.ok or obs.output is None:
            scored.append(_failed(obs))
            continue
        try:
            case = by_key[obs.case_key]
            echo, echoed = echoes[i]
            scores = _scores(case, obs.output, similarity.get(i), settings, echo, echoed)
            if obs.finish_reason in REFUSAL_FINISH_REASONS:
                scores["refusal"] = 1.0  # the provider says so, whatever the text looks like
            scores["similarity_embedding"] = cosine.get(i)
            scores["judge"] = judge_scores[i] if judge_scores is not None else None
            reason = judge_reasons[i] if judge_reasons is not None else None
            if scores["judge"] is not None:
                case = _judge_check(case, settings)
            checks = evaluate_checks(
                case,
                obs.output,
                None if obs.tokens_estimated else obs.output_tokens,  # the check says it estimates
                scores,
                judge_reason=reason,
                answer=echo.remainder if echoed else None,
            )
        except Exception as exc:  # one output that breaks a scorer fails its case only
            scored.append(_scoring_failed(obs, exc, similarity.get(i)))
            continue
        if obs.cached and obs.redacted:  # a replay of what was stored redacted
            checks, scores = not_recheckable(checks, scores, obs.redacted)
        scored.append(ScoredObservation(observation=obs, checks=checks, scores=scores))
    return scored
