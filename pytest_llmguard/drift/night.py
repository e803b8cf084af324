"""One night in the history, in the two compact forms the drift check reads.

Every nightly run is stored whole in the run store (the JSON report with every raw
observation), and beside it, as attachments of the same run:

- the **digest** (``digest``, a few hundred bytes per target): each target's model,
  headline metrics and errors by class, and that night's drift verdict and findings.
  Trends, control charts and ``llmguard history`` read only digests, so a year of
  nights loads in milliseconds.
- the **samples** (``samples``): per target, one column per value the checks need
  (case key, prompt fingerprint, latency, tokens, cost, error class, pass/fail, quality
  scores, output text). The reference runs of a night are read from these: a tenth of
  the parse time of the whole report (see ``benchmarks/drift_speed.py``).

Both come from disk and may be damaged or hand-edited: reading them raises
``SavedRunError`` naming the problem, and the history skips that night with a warning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.records import (
    ERROR_CLASSES,
    Case,
    CheckResult,
    ErrorRecord,
    Observation,
    ScoredObservation,
)
from pytest_llmguard.summary import RunSummary

try:  # a night's samples are the bulk of what the check reads: orjson halves it
    import orjson

    def _loads(data: bytes) -> Any:
        return orjson.loads(data)

    def _dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - CPython has the wheel

    def _loads(data: bytes) -> Any:
        return json.loads(data)

    def _dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


DIGEST = "digest"
SAMPLES = "samples"
FORMAT = 1
_NUMBERS = ("latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cost_usd")
_SCORES = (
    "similarity",
    "hallucination",
    "pii",
    "refusal",
    "repetition",
    "repetitive",
    "feedback_negative",
)


def case_fingerprint(case: Case) -> str:
    """A short hash of what is sent for a case: an edited prompt is a different case."""
    body = json.dumps(
        [[m.role, m.content] for m in case.messages] + [dict(case.params)],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.blake2b(body.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class TargetDigest:
    """One target's night in a few numbers."""

    model: str
    provider: str
    n: int
    metrics: Mapping[str, float | None]
    errors_by_class: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, summary: RunSummary) -> TargetDigest:
        return cls(
            summary.model,
            summary.provider,
            summary.n,
            dict(summary.metrics),
            dict(summary.errors_by_class),
        )


@dataclass(frozen=True, slots=True)
class Digest:
    """What the history keeps of a night for trends, control charts and listings."""

    started_at: float
    targets: Mapping[str, TargetDigest]
    verdict: str = "none"  # the night's drift verdict: drift, warn, ok, first
    findings: tuple[str, ...] = ()  # one line per finding

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "started_at": self.started_at,
                "targets": {
                    name: {
                        "model": t.model,
                        "provider": t.provider,
                        "n": t.n,
                        "metrics": dict(t.metrics),
                        "errors_by_class": dict(t.errors_by_class),
                    }
                    for name, t in self.targets.items()
                },
                "verdict": self.verdict,
                "findings": list(self.findings),
            },
            allow_nan=False,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Digest:
        """Read a digest back; SavedRunError when it is not one."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"not a night digest of format {FORMAT}")
            targets = {}
            for name, t in doc["targets"].items():
                metrics = {str(k): _finite_or_none(v) for k, v in t["metrics"].items()}
                errors = {str(k): int(v) for k, v in t.get("errors_by_class", {}).items()}
                targets[str(name)] = TargetDigest(
                    str(t["model"]), str(t.get("provider", "")), int(t["n"]), metrics, errors
                )
            findings = tuple(str(f) for f in doc.get("findings", []))
            return cls(float(doc["started_at"]), targets, str(doc.get("verdict")), findings)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise SavedRunError(f"damaged night digest ({type(exc).__name__}: {exc})") from None


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"metric is not a number: {value!r}")
    return float(value)


def samples_json(scored: Sequence[ScoredObservation], fingerprints: Mapping[str, str]) -> str:
    """The compact per-target columns of a night's observations (see the module doc)."""
    by_target: dict[str, list[ScoredObservation]] = {}
    for s in scored:
        by_target.setdefault(s.observation.target, []).append(s)
    targets: dict[str, Any] = {}
    for name, rows in by_target.items():
        obs = [s.observation for s in rows]
        columns: dict[str, Any] = {
            "model": obs[0].model,
            "case": [o.case_key for o in obs],
            "fingerprint": [fingerprints.get(o.case_key) for o in obs],
            "repeat": [o.repeat_index for o in obs],
            "error": [o.error.cls if o.error else None for o in obs],
            "passed": [s.passed for s in rows],
            "cached": [o.cached for o in obs],
            "output": [o.output for o in obs],
        }
        for attr in _NUMBERS:
            columns[attr] = [getattr(o, attr) for o in obs]
        columns["scores"] = {k: [s.scores.get(k) for s in rows] for k in _SCORES}
        targets[name] = columns
    return _dumps({"format": FORMAT, "targets": targets})


@dataclass(frozen=True, slots=True)
class NightSamples:
    """A night's observations per target, rebuilt from its samples, with fingerprints."""

    scored: Mapping[str, tuple[ScoredObservation, ...]]
    fingerprints: Mapping[str, str | None]  # case key -> fingerprint when it ran


def read_samples(data: bytes, repeat_base: int = 0) -> NightSamples:
    """Rebuild a night's observations from its samples; SavedRunError if damaged.

    ``repeat_base`` is added to every repeat index (pooled nights stay distinct repeats).
    """
    try:
        doc = _loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not night samples of format {FORMAT}")
        scored: dict[str, tuple[ScoredObservation, ...]] = {}
        fingerprints: dict[str, str | None] = {}
        for name, cols in doc["targets"].items():
            scored[str(name)] = _rebuild(str(name), cols, fingerprints, repeat_base)
        return NightSamples(scored, fingerprints)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise SavedRunError(f"damaged night samples ({type(exc).__name__}: {exc})") from None


_FAILED = (CheckResult("checks", False, "failed its checks that night"),)


def _check_column(name: str, values: list[Any], kinds: tuple[type, ...], n: int) -> None:
    """Every value of a column is None or of ``kinds`` (bool is no number), finite, >= 0.

    The same checks ``Observation.from_dict`` makes field by field, done per column:
    a night's samples are read for every later night, so this is the hot path.
    """
    if len(values) != n:
        raise ValueError(f"column {name}: {len(values)} values for {n} cases")
    found = set(map(type, values)) - {type(None)}
    if not found <= set(kinds):  # exact types: a bool is no number here
        wrong = next(v for v in values if v is not None and type(v) not in kinds)
        raise ValueError(f"column {name}: {wrong!r} is not a {kinds[-1].__name__}")
    if found & {int, float}:
        numbers = np.fromiter((v for v in values if v is not None), dtype=float)
        if not (np.isfinite(numbers).all() and (numbers >= 0).all()):
            raise ValueError(f"column {name}: not finite numbers >= 0")


def _rebuild(
    target: str, cols: Mapping[str, Any], fingerprints: dict[str, str | None], repeat_base: int
) -> tuple[ScoredObservation, ...]:
    model = str(cols["model"])
    keys = cols["case"]
    n = len(keys)
    _check_column("case", keys, (str,), n)
    _check_column("fingerprint", cols["fingerprint"], (str,), n)
    _check_column("repeat", cols["repeat"], (int,), n)
    _check_column("output", cols["output"], (str,), n)
    for attr in ("input_tokens", "output_tokens"):
        _check_column(attr, cols[attr], (int,), n)
    for attr in ("latency_ms", "ttft_ms", "cost_usd"):
        _check_column(attr, cols[attr], (int, float), n)
    errors = cols["error"]
    if len(errors) != n or any(e is not None and e not in ERROR_CLASSES for e in errors):
        raise ValueError("column error: not error classes")
    passed, cached = cols["passed"], cols["cached"]
    if len(passed) != n or len(cached) != n:
        raise ValueError("columns passed/cached: wrong length")
    scores = {k: v for k, v in cols["scores"].items() if k in _SCORES}
    for k, v in scores.items():
        _check_column(f"scores.{k}", v, (int, float), n)
    records = {cls: ErrorRecord(cls, "") for cls in ERROR_CLASSES}
    out = []
    rows = zip(
        keys,
        cols["fingerprint"],
        cols["repeat"],
        cols["output"],
        cols["latency_ms"],
        cols["ttft_ms"],
        cols["input_tokens"],
        cols["output_tokens"],
        cols["cost_usd"],
        errors,
        passed,
        cached,
        strict=True,
    )
    score_rows = [
        dict(zip(scores, values, strict=True)) for values in zip(*scores.values(), strict=True)
    ]
    for i, (key, fp, rep, text, lat, ttft, tin, tout, cost, cls, ok, hit) in enumerate(rows):
        obs = Observation(
            key,
            target,
            repeat_base + rep,
            model,
            text,
            None if lat is None else float(lat),
            None if ttft is None else float(ttft),
            tin,
            tout,
            None,
            None,
            None if cost is None else float(cost),
            bool(hit),
            1,
            None if cls is None else records[cls],
        )
        fingerprints[key] = fp
        row_scores = {k: v for k, v in score_rows[i].items() if v is not None} if score_rows else {}
        checks = () if ok or obs.error is not None else _FAILED
        out.append(ScoredObservation(obs, checks, row_scores))
    return tuple(out)
