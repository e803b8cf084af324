"""Similarity of an output to a reference (0..1), text or JSON.

Text is normalised first (:func:`normalize`) and then compared with a rapidfuzz
scorer, all pairs in one vectorised ``rapidfuzz.process.cpdist`` call.

The default scorer is ``token_set_ratio``: it ignores word order (a reworded answer
keeps its score) and length differences (an answer that says the reference plus some
extra context is not punished for the extra). Its blind spot, a terse answer that is a
subset of the reference, is what ``facts`` checks and the ``output_chars`` score are for.
``partial_ratio`` and ``WRatio`` are available but are much slower on long texts
(``partial_ratio`` is roughly 2000x slower than ``ratio`` on 1 KB texts).

When both sides parse as a JSON object or array (optionally inside a Markdown code
fence), they are compared structurally instead: flattened key paths, values equal
for numbers/booleans/null and fuzzy for strings (:func:`json_similarity`).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from pytest_llmguard.config.records import DEFAULT_SCORER

Scorer = Callable[..., float]

SCORERS: dict[str, Scorer] = {
    "token_set_ratio": fuzz.token_set_ratio,
    "token_sort_ratio": fuzz.token_sort_ratio,
    "ratio": fuzz.ratio,
    "partial_ratio": fuzz.partial_ratio,
    "WRatio": fuzz.WRatio,
}

# Patterns start with a literal so the regex engine can skip ahead quickly: normalising
# 20,000 1 KB texts must stay well under a second.
_THOUSANDS_RE = re.compile(r",(?=\d{3}(?!\d))(?<=\d,)")
_ZERO_DECIMALS_RE = re.compile(r"\.(?<=\d\.)0+(?!\.?\d)")
_TRAILING_ZEROS_RE = re.compile(r"\.(?<=\d\.)(\d*[1-9])0+(?!\.?\d)")
_DECIMAL_POINT_RE = re.compile(r"\.(?<=\d\.)(?=\d)")
_KEPT_POINT = "\x01"
_PUNCTUATION = string.punctuation.replace("_", "") + (
    # typographic quotes, dashes, ellipsis, bullets, currency and other symbols
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u2013\u2014"
    "\u2015\u2026\u00b7\u2022\u20ac\u00a3\u00a5\u00a2\u00a7\u00b6\u00b0\u00b1\u00d7\u00f7"
    "\u00bf\u00a1"
)
_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(_PUNCTUATION, " "))
_FENCE_RE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)


def normalize(text: str) -> str:
    """Lowercase, unify number formats, drop punctuation and collapse whitespace.

    ``"1,000"``, ``"1000"`` and ``"1000.0"`` all become ``"1000"``; ``"$4.50"`` becomes
    ``"4.5"``; dotted versions like ``1.2.3`` stay one token. Other punctuation becomes
    a word break, so ``"can't"`` is ``"can t"`` on both sides of a comparison.
    """
    return " ".join(_normalize_words(text).split())


def _normalize_words(text: str) -> str:
    """:func:`normalize` without collapsing whitespace (token scorers split anyway)."""
    text = text.casefold()
    if "," in text:
        text = _THOUSANDS_RE.sub("", text)
    if "." in text:
        text = _ZERO_DECIMALS_RE.sub("", text)
        text = _TRAILING_ZEROS_RE.sub(r".\1", text)
        text = _DECIMAL_POINT_RE.sub(_KEPT_POINT, text)
    text = text.translate(_PUNCTUATION_TO_SPACE)
    return text.replace(_KEPT_POINT, ".") if _KEPT_POINT in text else text


def _parse_json(text: str) -> Any:
    """The JSON object/array in ``text`` (maybe fenced), or None when it is not one."""
    stripped = text.strip()
    fenced = _FENCE_RE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    if not stripped or stripped[0] not in "{[":
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):  # also 5,000 brackets deep, or 5,000 digits
        return None
    return value if isinstance(value, (dict, list)) else None


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix or "$"] = {}
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        if not value:
            out[prefix or "$"] = []
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix or "$"] = value


def _value_similarity(a: Any, b: Any) -> float:
    if isinstance(a, str) and isinstance(b, str):
        na, nb = normalize(a), normalize(b)
        if na == nb:
            return 1.0
        return float(fuzz.ratio(na, nb)) / 100.0
    # bool is an int subclass: True must not equal 1
    if type(a) is not type(b) and not (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return 0.0
    return 1.0 if a == b else 0.0


def json_similarity(a: Any, b: Any) -> float:
    """Structural similarity of two parsed JSON values (0..1).

    Both are flattened to ``path -> scalar`` (``items[0].name``); every path in the union
    scores 0 when missing on one side, else the value similarity (exact for numbers,
    booleans and null, fuzzy ``ratio`` for normalised strings). The mean is returned.
    """
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten(a, "", fa)
    _flatten(b, "", fb)
    paths = fa.keys() | fb.keys()
    if not paths:
        return 1.0
    total = sum(_value_similarity(fa[p], fb[p]) for p in paths if p in fa and p in fb)
    return total / len(paths)


def _scorer(name: str) -> Scorer:
    try:
        return SCORERS[name]
    except KeyError:
        valid = ", ".join(SCORERS)
        raise ValueError(f"unknown scorer {name!r}; valid: {valid}") from None


def _unnormalized(text: str) -> str:
    return text


def similarity_batch(
    outputs: Sequence[str],
    references: Sequence[str],
    scorer: str = DEFAULT_SCORER,
    *,
    normalize: bool = True,
) -> npt.NDArray[np.float64]:
    """Pairwise similarity ``outputs[i]`` vs ``references[i]`` in 0..1, one batch.

    JSON pairs are scored structurally; text pairs are normalised and scored with one
    ``cpdist`` call (single worker: the run's own concurrency owns the other cores).
    Two empty texts are identical (1.0); one empty text scores 0.0. ``normalize=False``
    compares the raw texts (case, punctuation and number formats then count).
    """
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} outputs but {len(references)} references")
    fn = _scorer(scorer)
    # Token scorers split on whitespace themselves: collapsing it first is wasted work.
    prepare: Callable[[str], str]
    if not normalize:
        prepare = _unnormalized
    elif scorer.startswith("token_"):
        prepare = _normalize_words
    else:
        prepare = _normalize_text
    result = np.zeros(len(outputs), dtype=np.float64)
    text_idx: list[int] = []
    text_a: list[str] = []
    text_b: list[str] = []
    for i, (out, ref) in enumerate(zip(outputs, references, strict=True)):
        first = out.lstrip()[:1]
        if first and first in "{[`":
            ja, jb = _parse_json(out), _parse_json(ref)
            if ja is not None and jb is not None:
                try:
                    result[i] = json_similarity(ja, jb)
                    continue
                except RecursionError:  # nested deeper than flattening goes: as text
                    pass
        na, nb = prepare(out), prepare(ref)
        if not na or na.isspace() or not nb or nb.isspace():
            result[i] = 1.0 if na.strip() == nb.strip() else 0.0
            continue
        text_idx.append(i)
        text_a.append(na)
        text_b.append(nb)
    if text_idx:
        scores = process.cpdist(text_a, text_b, scorer=fn, workers=1, dtype=np.float64)
        result[np.asarray(text_idx, dtype=np.intp)] = np.asarray(scores, dtype=np.float64) / 100.0
    return np.clip(result, 0.0, 1.0)


def pair_similarity(
    a: str, b: str, scorer: str = DEFAULT_SCORER, *, normalize: bool = True
) -> float:
    """Similarity of two texts in 0..1, e.g. a case's baseline vs candidate output."""
    return float(similarity_batch([a], [b], scorer, normalize=normalize)[0])


# ``similarity_batch`` has a ``normalize`` flag that shadows the function inside it.
_normalize_text = normalize
