"""The plain, immutable data that flows through the pipeline.

    Case ──(Target, engine)──▶ Observation ──(checks, scorers)──▶ ScoredObservation
         ──▶ RunSummary (summary/) ──▶ Comparison/Verdict (gate.py) ──▶ reports

Every record converts to and from plain JSON-able dicts (``to_dict``/``from_dict``):
that is how xdist workers hand raw observations to the controller and how runs are saved.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from pytest_llmguard.case_provenance import Provenance as Provenance

ErrorClass = Literal[
    "timeout",
    "rate_limit",
    "server_error",
    "client_error",
    "connection",
    "invalid_response",
    "cache_miss",
    "budget_exhausted",
]
ERROR_CLASSES: tuple[ErrorClass, ...] = get_args(ErrorClass)
# The largest count a record read back may hold (tokens, attempts, repeats); a larger
# one is a damaged or crafted file.
MAX_COUNT = 10**12


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: str
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True, slots=True)
class Check:
    """One declared check of a case, e.g. ``Check("contains", "30 days")``.

    ``arg`` is the YAML value as written (already validated by ``checks.validate_check``).
    """

    kind: str
    arg: Any

    def to_dict(self) -> dict[str, Any]:
        return {self.kind: self.arg}


@dataclass(frozen=True, slots=True)
class Case:
    """One prompt of a golden set (or one sampled production record), fully rendered.

    ``messages`` already include the set's ``system`` message and have ``{{vars}}``
    substituted. ``params`` are the set's params merged with the case's own.
    """

    set_name: str
    set_path: str  # path relative to the rootdir, '/'-separated: golden_sets/support.yaml
    id: str
    messages: tuple[Message, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    expected: str | None = None
    context: str | None = None
    checks: tuple[Check, ...] = ()
    tags: tuple[str, ...] = ()
    repeat: int = 1
    line: int | None = None  # line of the case in its file, for messages
    provenance: Provenance | None = None  # a case sampled from production logs
    vars: Mapping[str, Any] = field(default_factory=dict)  # as substituted in the messages

    @property
    def key(self) -> str:
        """Stable identity of the case across runs: ``set_path::id``."""
        return f"{self.set_path}::{self.id}"

    @property
    def prompt(self) -> str:
        """The last user message (the whole prompt of a one-message case)."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")

    @property
    def system(self) -> str | None:
        """The system message(s), joined by blank lines; None without one."""
        parts = [m.content for m in self.messages if m.role in ("system", "developer")]
        return "\n\n".join(parts) if parts else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "set_name": self.set_name,
            "set_path": self.set_path,
            "id": self.id,
            "messages": [m.to_dict() for m in self.messages],
            "params": dict(self.params),
            "expected": self.expected,
            "context": self.context,
            "checks": [c.to_dict() for c in self.checks],
            "tags": list(self.tags),
            "repeat": self.repeat,
            "line": self.line,
            "provenance": self.provenance.to_dict() if self.provenance else None,
            "vars": dict(self.vars),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Case:
        checks = []
        for raw in d.get("checks", []):
            ((kind, arg),) = raw.items()
            checks.append(Check(kind, arg))
        return cls(
            set_name=d["set_name"],
            set_path=d["set_path"],
            id=d["id"],
            messages=tuple(Message(m["role"], m["content"]) for m in d["messages"]),
            params=dict(d.get("params", {})),
            expected=d.get("expected"),
            context=d.get("context"),
            checks=tuple(checks),
            tags=tuple(d.get("tags", ())),
            repeat=int(d.get("repeat", 1)),
            line=d.get("line"),
            provenance=Provenance.from_dict(d["provenance"]) if d.get("provenance") else None,
            vars=dict(d.get("vars") or {}),
        )


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """A classified failure of one call. Never contains credentials."""

    cls: ErrorClass
    message: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.cls, "message": self.message, "status": self.status}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ErrorRecord:
        if not isinstance(d, Mapping):
            raise ValueError(f"error is not an object: {type(d).__name__}")
        error_class = d.get("class")
        if error_class not in ERROR_CLASSES:
            raise ValueError(f"unknown error class {_shown(error_class)}")
        message = _text(d, "message")
        status = d.get("status")
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise ValueError(f"error status is not a number: {status!r}")
        return cls(cast(ErrorClass, error_class), message, status)


@dataclass(frozen=True, slots=True)
class Observation:
    """One call of one case against one target: what came back and what it cost.

    Timings are measured around the request itself (from just before the request is
    written to the last byte), never including time spent waiting for a slot.
    ``cached`` observations keep their original timings. ``tokens_estimated``: the
    provider reported no usage (llama.cpp streams ignore ``include_usage``), so the token
    counts, and the cost, are estimates (``runner.estimate_tokens``).
    """

    case_key: str
    target: str
    repeat_index: int
    model: str
    output: str | None
    latency_ms: float | None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False
    attempts: int = 1
    error: ErrorRecord | None = None
    started_at: float = 0.0  # unix time of the (first) request
    finish_reason: str | None = None
    tokens_estimated: bool = False
    cache_write_tokens: int | None = None  # prompt-cache writes, a share of input_tokens
    redacted: tuple[str, ...] = ()  # kinds removed from the stored text (``redact:``)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_key": self.case_key,
            "target": self.target,
            "repeat_index": self.repeat_index,
            "model": self.model,
            "output": self.output,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": self.cost_usd,
            "cached": self.cached,
            "attempts": self.attempts,
            "error": self.error.to_dict() if self.error else None,
            "started_at": self.started_at,
            "finish_reason": self.finish_reason,
            "tokens_estimated": self.tokens_estimated,
            "cache_write_tokens": self.cache_write_tokens,
            **({"redacted": list(self.redacted)} if self.redacted else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Observation:
        """Read back an observation (cache entry, saved run, worker hand-over).

        Those come from disk or another process and may be damaged or crafted: any
        field of the wrong type, a non-finite number or a negative count is a ValueError.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"observation is not an object: {type(d).__name__}")
        err = d.get("error")
        output = _text(d, "output", None)
        return cls(
            case_key=_text(d, "case_key"),
            target=_text(d, "target"),
            repeat_index=_count(d, "repeat_index", 0),
            model=_text(d, "model", ""),
            output=output,
            latency_ms=_number(d, "latency_ms"),
            ttft_ms=_number(d, "ttft_ms"),
            input_tokens=_count(d, "input_tokens"),
            output_tokens=_count(d, "output_tokens"),
            cached_tokens=_count(d, "cached_tokens"),
            reasoning_tokens=_count(d, "reasoning_tokens"),
            cost_usd=_number(d, "cost_usd"),
            cached=bool(d.get("cached", False)),
            attempts=_count(d, "attempts", 1),
            error=ErrorRecord.from_dict(err) if err else None,
            started_at=_number(d, "started_at", 0.0),
            finish_reason=_text(d, "finish_reason", None),
            tokens_estimated=d.get("tokens_estimated") is True,
            cache_write_tokens=_count(d, "cache_write_tokens"),
            redacted=_kinds(d.get("redacted")),
        )


_MISSING: Any = object()


def _kinds(value: Any) -> tuple[str, ...]:
    """Redacted kinds read back: a list of names, anything else is none."""
    return tuple(k for k in value if isinstance(k, str)) if isinstance(value, list) else ()


def _shown(value: Any) -> str:
    """A value for an error message: short, and safe to print (repr escapes controls)."""
    if isinstance(value, str):
        return repr(value[:40]) + ("..." if len(value) > 40 else "")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 1e15:
        return repr(value)
    return type(value).__name__


def _text(d: Mapping[str, Any], key: str, default: Any = _MISSING) -> Any:
    value = d.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key} is missing")
    if value is not None:
        if not isinstance(value, str):
            raise ValueError(f"{key} is not text: {type(value).__name__}")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): not writable
            raise ValueError(f"{key} is not valid Unicode text") from None
    return value


def _number(d: Mapping[str, Any], key: str, default: float | None = None) -> Any:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number: {type(value).__name__}")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{key} is not a finite number >= 0: {_shown(value)}")
    return number


def _count(d: Mapping[str, Any], key: str, default: int | None = None) -> Any:
    value = d.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ValueError(f"{key} is not a count (a whole number, 0 to 10**12): {_shown(value)}")
    return value


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of one check on one output."""

    name: str  # the check kind, e.g. "contains"
    passed: bool
    detail: str  # human readable: what was expected and what was found
    unchecked: bool = False  # on a replayed redacted output: not re-checkable (passed unset)

    def to_dict(self) -> dict[str, Any]:
        flag = {"unchecked": True} if self.unchecked else {}
        return {"name": self.name, "passed": self.passed, "detail": self.detail, **flag}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CheckResult:
        if not isinstance(d, Mapping):
            raise ValueError(f"check is not an object: {type(d).__name__}")
        passed = d.get("passed")
        if not isinstance(passed, bool):
            raise ValueError(f"check 'passed' is not true or false: {_shown(passed)}")
        return cls(_text(d, "name"), passed, _text(d, "detail", ""), d.get("unchecked") is True)


@dataclass(frozen=True, slots=True)
class ScoredObservation:
    """An observation with its check results and quality scores.

    ``scores`` maps score names (similarity, hallucination, pii, refusal, repetition,
    groundedness, ...) to a number in 0..1 or None when not applicable (e.g. no
    ``expected`` for similarity, or the call failed).
    """

    observation: Observation
    checks: tuple[CheckResult, ...] = ()
    scores: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """A case passes when the call succeeded and every check passed."""
        return self.observation.ok and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "observation": self.observation.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "scores": dict(self.scores),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ScoredObservation:
        return cls(
            observation=Observation.from_dict(d["observation"]),
            checks=checks_from(d.get("checks")),
            scores=scores_from(d.get("scores")),
        )


def checks_from(value: Any) -> tuple[CheckResult, ...]:
    """Check results read back from disk or another process (ValueError if damaged)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"checks is not a list: {type(value).__name__}")
    return tuple(CheckResult.from_dict(c) for c in value)


def scores_from(value: Any) -> dict[str, float | None]:
    """Scores read back from disk or another process: each None or a finite number."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"scores is not an object: {type(value).__name__}")
    scores: dict[str, float | None] = {}
    for name, score in value.items():
        if score is None:
            scores[str(name)] = None
            continue
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise ValueError(f"score {_shown(str(name))} is not a number: {_shown(score)}")
        if not math.isfinite(score):
            raise ValueError(f"score {_shown(str(name))} is not finite: {score!r}")
        scores[str(name)] = float(score)
    return scores
