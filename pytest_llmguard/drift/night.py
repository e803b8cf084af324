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

from pytest_llmguard.exceptions import SavedRunError
from pytest_llmguard.records import (
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


def read_samples(data: bytes) -> NightSamples:
    """Rebuild a night's observations from its samples; SavedRunError if damaged."""
    try:
        doc = _loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not night samples of format {FORMAT}")
        scored: dict[str, tuple[ScoredObservation, ...]] = {}
        fingerprints: dict[str, str | None] = {}
        for name, cols in doc["targets"].items():
            scored[str(name)] = _rebuild(str(name), cols, fingerprints)
        return NightSamples(scored, fingerprints)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        raise SavedRunError(f"damaged night samples ({type(exc).__name__}: {exc})") from None


_FAILED = (CheckResult("checks", False, "failed its checks that night"),)


def _rebuild(
    target: str, cols: Mapping[str, Any], fingerprints: dict[str, str | None]
) -> tuple[ScoredObservation, ...]:
    model = str(cols["model"])
    keys = cols["case"]
    n = len(keys)
    columns = [cols[k] for k in ("fingerprint", "repeat", "error", "passed", "cached", "output")]
    numbers = [cols[k] for k in _NUMBERS]
    scores = {k: v for k, v in cols["scores"].items() if k in _SCORES}
    if any(len(c) != n for c in (*columns, *numbers, *scores.values())):
        raise ValueError(f"target {target}: columns of different lengths")
    fps, repeats, errors, passed, cached, outputs = columns
    out = []
    for i in range(n):
        # Observation.from_dict checks every field's type and range: damage is an error.
        cls = errors[i]
        obs = Observation.from_dict(
            {
                "case_key": keys[i],
                "target": target,
                "repeat_index": repeats[i],
                "model": model,
                "output": outputs[i],
                **{attr: numbers[j][i] for j, attr in enumerate(_NUMBERS)},
                "cached": cached[i],
                "error": None if cls is None else ErrorRecord(cls, "").to_dict(),
            }
        )
        fingerprints[keys[i]] = fps[i]
        row_scores = {k: v[i] for k, v in scores.items() if v[i] is not None}
        checks = () if passed[i] or not obs.ok else _FAILED
        out.append(ScoredObservation(obs, checks, row_scores))
    return tuple(out)
