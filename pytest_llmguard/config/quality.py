"""Validate the ``quality`` config section into ``QualitySettings``.

The section's documentation is in ``pytest_llmguard.scoring``; ``QUALITY_SCHEMA`` is its
JSON Schema. Messages name the key path; ``config.build`` adds the file and line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rapidfuzz import process

from pytest_llmguard.config.records import DEFAULT_SCORER, JudgeSettings, QualitySettings
from pytest_llmguard.exceptions import ConfigError
from pytest_llmguard.metrics.similarity import SCORERS

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
        "echo": {
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


_SECTIONS: dict[str, tuple[str, ...]] = {
    "similarity": ("scorer", "normalize", "embeddings"),
    "hallucination": ("groundedness_min",),
    "refusal": ("threshold",),
    "repetition": ("threshold",),
    "echo": ("threshold",),
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
    echo = quality.get("echo", {})
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
        echo_threshold=_unit(
            "quality.echo.threshold", echo.get("threshold", defaults.echo_threshold)
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
