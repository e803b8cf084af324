"""The stage Observation -> ScoredObservation: quality scores, then the case's checks.

Scores of a successful call (all 0..1 unless said otherwise; None = not applicable):

- ``similarity``: to the case's ``expected`` (None without one), one batch for all outputs;
- ``hallucination``: 1.0 when a ``facts`` entry is unsupported, a ``forbidden`` claim
  appears, or (with ``context``) ``groundedness`` is below ``groundedness_min``; else 0.0;
  None when the case has no facts, forbidden claims or context;
- ``groundedness``: share of output sentences supported by ``context`` (None without);
- ``pii``: 1.0 when the output contains PII of any kind, else 0.0;
- ``refusal``: 1.0 when the output is a refusal at ``refusal.threshold``, else 0.0;
- ``repetition``: the repetition score (0..1); ``repetitive``: 1.0 when it reaches
  ``repetition.threshold``, else 0.0 (``repetition_rate`` is the mean of ``repetitive``);
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
      judge:                      # optional LLM-as-judge; its calls are costed separately
        target: grader            # a configured target (any provider)
        rubric: "Is the answer correct and helpful?"
        model: gpt-4o-mini        # optional: override the target's model
        min: 0.7                  # optional: every case without its own `judge` check
                                  # fails when the judge's score is below this

``QUALITY_SCHEMA`` is the JSON Schema of that mapping, for the config schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from rapidfuzz import process

from pytest_llmguard.checks import evaluate_checks
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.metrics import repetition as repetition_metric
from pytest_llmguard.metrics.hallucination import forbidden_found, groundedness, unsupported_facts
from pytest_llmguard.metrics.pii import find_pii
from pytest_llmguard.metrics.refusal import DEFAULT_THRESHOLD as REFUSAL_THRESHOLD
from pytest_llmguard.metrics.refusal import is_refusal
from pytest_llmguard.metrics.similarity import DEFAULT_SCORER, SCORERS, similarity_batch
from pytest_llmguard.records import Case, Check, CheckResult, Observation, ScoredObservation

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"

SCORE_NAMES: tuple[str, ...] = (
    "similarity",
    "hallucination",
    "groundedness",
    "pii",
    "refusal",
    "repetition",
    "repetitive",
    "output_chars",
    "empty",
    "similarity_embedding",
    "judge",
)

_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
QUALITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "similarity": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "scorer": {"enum": list(SCORERS)},
                "normalize": {"type": "boolean"},
                "embeddings": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["target"],
                    "properties": {
                        "target": {"type": "string"},
                        "model": {"type": "string"},
                        "weight": _UNIT,
                    },
                },
            },
        },
        "hallucination": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"groundedness_min": _UNIT},
        },
        "refusal": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"threshold": _UNIT},
        },
        "repetition": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"threshold": _UNIT},
        },
        "judge": {
            "type": "object",
            "additionalProperties": False,
            "required": ["target", "rubric"],
            "properties": {
                "target": {"type": "string", "minLength": 1},
                "rubric": {"type": "string", "minLength": 1},
                "model": {"type": "string", "minLength": 1},
                "min": _UNIT,
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class JudgeSettings:
    """The validated ``quality.judge`` section."""

    target: str
    rubric: str
    model: str | None = None  # None: the target's own model
    min_score: float | None = None  # None: only explicit `judge` checks use the score


@dataclass(frozen=True, slots=True)
class QualitySettings:
    """The validated ``quality`` configuration."""

    scorer: str = DEFAULT_SCORER
    normalize: bool = True
    groundedness_min: float = 0.6
    refusal_threshold: float = REFUSAL_THRESHOLD
    repetition_threshold: float = repetition_metric.DEFAULT_THRESHOLD
    embeddings_target: str | None = None
    embeddings_model: str = DEFAULT_EMBEDDING_MODEL
    embeddings_weight: float = 0.3
    judge: JudgeSettings | None = None


_SECTIONS: dict[str, tuple[str, ...]] = {
    "similarity": ("scorer", "normalize", "embeddings"),
    "hallucination": ("groundedness_min",),
    "refusal": ("threshold",),
    "repetition": ("threshold",),
    "judge": ("target", "rubric", "model", "min"),
}


def _unknown_key(path: str, key: object, valid: Sequence[str]) -> ConfigError:
    guess = process.extractOne(str(key), valid, score_cutoff=60)
    return ConfigError(
        f"unknown key {key!r}; valid: {', '.join(valid)}",
        key_path=f"{path}.{key}" if path else str(key),
        hint=f"did you mean {guess[0]!r}?" if guess else None,
    )


def _unit(path: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0.0 <= value <= 1.0
    ):
        raise ConfigError(f"expected a number from 0 to 1, got {value!r}", key_path=path)
    return float(value)


def validate_quality(quality: Mapping[str, Any]) -> QualitySettings:
    """Check the ``quality`` mapping and return its settings; :class:`ConfigError` if bad."""
    if not isinstance(quality, Mapping):
        raise ConfigError(f"expected a mapping, got {type(quality).__name__}", key_path="quality")
    for section, value in quality.items():
        if section not in _SECTIONS:
            raise _unknown_key("quality", section, tuple(_SECTIONS))
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"expected a mapping, got {type(value).__name__}", key_path=f"quality.{section}"
            )
        for key in value:
            if key not in _SECTIONS[section]:
                raise _unknown_key(f"quality.{section}", key, _SECTIONS[section])
    sim = quality.get("similarity", {})
    scorer = sim.get("scorer", DEFAULT_SCORER)
    if scorer not in SCORERS:
        raise ConfigError(
            f"unknown scorer {scorer!r}; valid: {', '.join(SCORERS)}",
            key_path="quality.similarity.scorer",
        )
    normalize = sim.get("normalize", True)
    if not isinstance(normalize, bool):
        raise ConfigError(
            f"expected true or false, got {normalize!r}", key_path="quality.similarity.normalize"
        )
    defaults = QualitySettings()
    emb = _embeddings(sim.get("embeddings"), defaults)
    hall = quality.get("hallucination", {})
    ref = quality.get("refusal", {})
    rep = quality.get("repetition", {})
    return QualitySettings(
        scorer=scorer,
        normalize=normalize,
        groundedness_min=_unit(
            "quality.hallucination.groundedness_min",
            hall.get("groundedness_min", defaults.groundedness_min),
        ),
        refusal_threshold=_unit(
            "quality.refusal.threshold", ref.get("threshold", defaults.refusal_threshold)
        ),
        repetition_threshold=_unit(
            "quality.repetition.threshold", rep.get("threshold", defaults.repetition_threshold)
        ),
        embeddings_target=emb[0],
        embeddings_model=emb[1],
        embeddings_weight=emb[2],
        judge=_judge(quality.get("judge")),
    )


def _judge(raw: Mapping[str, Any] | None) -> JudgeSettings | None:
    """``quality.judge`` (keys already checked against ``_SECTIONS``)."""
    if raw is None:
        return None
    path = "quality.judge"
    for key, what in (("target", "the name of a configured target"), ("rubric", "a rubric")):
        if key not in raw:
            raise ConfigError(f"missing required key {key!r}: {what}", key_path=path)
        value = raw[key]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"expected {what} (a non-empty string), got {value!r}", key_path=f"{path}.{key}"
            )
    model = raw.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigError(f"expected a model name, got {model!r}", key_path=f"{path}.model")
    low = raw.get("min")
    return JudgeSettings(
        target=raw["target"],
        rubric=raw["rubric"],
        model=model,
        min_score=None if low is None else _unit(f"{path}.min", low),
    )


def _embeddings(raw: object, defaults: QualitySettings) -> tuple[str | None, str, float]:
    """(target, model, weight) of ``quality.similarity.embeddings``."""
    path = "quality.similarity.embeddings"
    if raw is None:
        return None, defaults.embeddings_model, defaults.embeddings_weight
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping, got {type(raw).__name__}", key_path=path)
    valid = ("target", "model", "weight")
    for key in raw:
        if key not in valid:
            raise _unknown_key(path, key, valid)
    target, model = raw.get("target"), raw.get("model", defaults.embeddings_model)
    if not isinstance(target, str) or not target:
        raise ConfigError("expected the name of a configured target", key_path=f"{path}.target")
    if not isinstance(model, str) or not model:
        raise ConfigError("expected an embedding model name", key_path=f"{path}.model")
    return target, model, _unit(f"{path}.weight", raw.get("weight", defaults.embeddings_weight))


Embedder = Callable[[Sequence[str]], "Sequence[Sequence[float]] | None"]


def _cosines(vectors: Sequence[Sequence[float]], n: int) -> list[float]:
    """Cosine of output i (vectors[i]) with reference i (vectors[n + i]), clipped to 0..1."""
    matrix = np.asarray(vectors, dtype=np.float64)
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
    case: Case, output: str, similarity: float | None, settings: QualitySettings
) -> dict[str, float | None]:
    facts, forbidden = _claims(case)
    grounded = groundedness(output, case.context) if case.context else None
    hallucination: float | None = None
    if facts or forbidden or grounded is not None:
        bad = (
            bool(unsupported_facts(output, facts))
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
        "output_chars": float(len(output)),
        "empty": 0.0 if output.strip() else 1.0,
    }


def score_batch(
    cases: Sequence[Case],
    observations: Sequence[Observation],
    quality: Mapping[str, Any],
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
    settings = validate_quality(quality)
    by_key = {case.key: case for case in cases}
    missing = [o.case_key for o in observations if o.case_key not in by_key]
    if missing:
        raise ValueError(f"observation for unknown case {missing[0]!r}")
    for name, given in (("judge_scores", judge_scores), ("judge_reasons", judge_reasons)):
        if given is not None and len(given) != len(observations):
            raise ValueError(f"{name} has {len(given)} items for {len(observations)} observations")

    pending: list[int] = []
    outputs: list[str] = []
    references: list[str] = []
    for i, obs in enumerate(observations):
        expected = by_key[obs.case_key].expected
        if obs.ok and obs.output is not None and expected is not None:
            pending.append(i)
            outputs.append(obs.output)
            references.append(expected)
    similarity: dict[int, float] = {}
    if pending:
        values = similarity_batch(
            outputs, references, settings.scorer, normalize=settings.normalize
        )
        similarity = dict(zip(pending, (float(v) for v in values), strict=True))
    cosine: dict[int, float] = {}
    if pending and embed is not None and settings.embeddings_target is not None:
        vectors = embed(outputs + references)
        if vectors is not None and len(vectors) == 2 * len(pending):
            cosine = dict(zip(pending, _cosines(vectors, len(pending)), strict=True))
            w = settings.embeddings_weight
            similarity = {i: (1 - w) * similarity[i] + w * cosine[i] for i in pending}

    scored = []
    for i, obs in enumerate(observations):
        if not obs.ok or obs.output is None:
            scored.append(_failed(obs))
            continue
        case = by_key[obs.case_key]
        scores = _scores(case, obs.output, similarity.get(i), settings)
        scores["similarity_embedding"] = cosine.get(i)
        scores["judge"] = judge_scores[i] if judge_scores is not None else None
        reason = judge_reasons[i] if judge_reasons is not None else None
        if scores["judge"] is not None:
            case = _judge_check(case, settings)
        checks = evaluate_checks(case, obs.output, obs.output_tokens, scores, judge_reason=reason)
        scored.append(ScoredObservation(observation=obs, checks=checks, scores=scores))
    return scored
