"""PII and secret detection and redaction, tuned against false positives.

Kinds (``PII_KINDS``):

- ``email``: ``local@domain.tld``.
- ``phone``: international numbers starting with ``+`` and a country code (8-15 digits,
  spaces, dashes, dots or a parenthesised area code between groups), and North American
  numbers written with separators (``555-123-4567``, ``(415) 555-0132``,
  ``1-800-273-8255``). A bare run of digits is never a phone number: that is what order
  numbers, timestamps and tracking numbers look like.
- ``credit_card``: 13-19 digits, plain or in the usual 4-4-4-4 / 4-6-5 groups, with a
  known issuer prefix and a valid Luhn checksum.
- ``ssn``: US ``AAA-GG-SSSS`` with the never-issued areas (000, 666, 900-999), group 00
  and serial 0000 excluded.
- ``iban``: country code, check digits and account, mod-97 checked (spaces allowed).
- ``ip``: IPv4 with valid octets, not part of a longer dotted number, not after
  ``version``/``build``/``release``/``v`` and not a CIDR range (``10.0.0.0/8``);
  IPv6 validated by :mod:`ipaddress`.
- ``api_key``: OpenAI ``sk-``/``sk-proj-``, GitHub ``ghp_``/``gho_``/``ghu_``/``ghs_``/
  ``ghr_``/``github_pat_``, AWS ``AKIA``/``ASIA``, Slack ``xox[bpars]-``, and
  ``Bearer <token>`` with a long token.

When matches overlap, the more specific kind wins (a key or an IBAN over the phone
number that a digit run inside it could also be).
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

PII_KINDS: tuple[str, ...] = (
    "email",
    "phone",
    "credit_card",
    "ssn",
    "iban",
    "ip",
    "api_key",
)

# Lower number wins an overlap.
_PRIORITY = {"api_key": 0, "email": 1, "iban": 2, "credit_card": 3, "ssn": 4, "ip": 5, "phone": 6}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One detected item: its kind and the ``text[start:end]`` span."""

    kind: str
    start: int
    end: int


_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,}(?![\w-])"
)

_PHONE_INTL_RE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,5}\)|\d{1,5})){1,7}(?![\w-]|[.,]\d)"
)
_PHONE_NANP_RE = re.compile(
    r"(?<![\w.+/-])(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}([ .-]))\d{3}[ .-]\d{4}"
    r"(?![\w-]|[.,]\d)"
)

_CARD_RE = re.compile(r"(?<![\w.,-])\d(?:[ -]?\d){12,18}(?![\w-]|[.,]\d)")
_CARD_PREFIX_RE = re.compile(
    r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|5|4[4-9]|22)|35(?:2[89]|[3-8])"
    r"|3(?:0[0-5]|[68])"
)

_SSN_RE = re.compile(
    r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-]|[.,]\d)"
)

_IBAN_RE = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)")
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22,
    "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SA": 24, "SE": 24, "SI": 19, "SK": 24, "TR": 26,
}  # fmt: skip

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# A CIDR range (10.0.0.0/8) names a network, not anyone's address.
_IPV4_RE = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d|/\d)")
_VERSION_BEFORE_RE = re.compile(
    r"(?:\bv|\bversion|\bver\.?|\bbuild|\brelease|\bfirmware|\brev(?:ision)?)\s*$", re.I
)
_IPV6_RE = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

_KEY_HINT_RE = re.compile(r"sk-|gh[pousr]_|github_pat_|A[KSBC][IC]A|xox[bpars]-|Bearer")
# Every kind needs a digit, "@" (email) or ":" (IPv6); API keys need a digit too.
_MAYBE_PII_RE = re.compile(r"[0-9@:]")
_API_KEY_RES = (
    re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<!\w)gh[pousr]_[A-Za-z0-9]{30,255}(?!\w)"),
    re.compile(r"(?<!\w)github_pat_[A-Za-z0-9_]{22,255}(?!\w)"),
    re.compile(r"(?<!\w)(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?!\w)"),
    re.compile(r"(?<!\w)xox[bpars]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<!\w)Bearer\s+[A-Za-z0-9\-._~+/]{20,}=*"),
)
_HAS_DIGIT_AND_LETTER_RE = re.compile(r"(?=.*\d)(?=.*[A-Za-z])", re.S)


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(compact: str) -> bool:
    """True when the IBAN (no spaces, upper case) passes the ISO 13616 mod-97 check."""
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _emails(text: str) -> Iterator[PiiMatch]:
    for m in _EMAIL_RE.finditer(text):
        yield PiiMatch("email", m.start(), m.end())


def _phones(text: str) -> Iterator[PiiMatch]:
    for m in _PHONE_INTL_RE.finditer(text):
        digits = sum(ch.isdigit() for ch in m.group(0))
        if 8 <= digits <= 15:
            yield PiiMatch("phone", m.start(), m.end())
    for m in _PHONE_NANP_RE.finditer(text):
        sep = m.group(1)
        # 555-123-4567 and 212.555.0198 use one separator throughout; mixed ones are
        # more often part numbers or dates.
        if sep and m.group(0)[-5] != sep:
            continue
        yield PiiMatch("phone", m.start(), m.end())


def _card_groups_ok(raw: str) -> bool:
    seps = {ch for ch in raw if not ch.isdigit()}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in re.split(r"[ -]", raw)]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4 and len(groups) >= 4


def _cards(text: str) -> Iterator[PiiMatch]:
    for m in _CARD_RE.finditer(text):
        raw = m.group(0)
        digits = raw.replace(" ", "").replace("-", "")
        if (
            13 <= len(digits) <= 19
            and _CARD_PREFIX_RE.match(digits)
            and _card_groups_ok(raw)
            and luhn_ok(digits)
        ):
            yield PiiMatch("credit_card", m.start(), m.end())


def _ssns(text: str) -> Iterator[PiiMatch]:
    for m in _SSN_RE.finditer(text):
        yield PiiMatch("ssn", m.start(), m.end())


def _ibans(text: str) -> Iterator[PiiMatch]:
    for m in _IBAN_RE.finditer(text):
        raw = m.group(0)
        compact = raw.replace(" ", "")
        want = _IBAN_LENGTHS.get(compact[:2])
        if want is not None:
            if len(compact) < want:
                continue
            compact = compact[:want]
        elif not 15 <= len(compact) <= 34:
            continue
        if not iban_ok(compact):
            continue
        # map the compact length back to a span of the raw text (spaces included)
        seen = 0
        end = m.start()
        for i, ch in enumerate(raw):
            if ch != " ":
                seen += 1
            if seen == len(compact):
                end = m.start() + i + 1
                break
        yield PiiMatch("iban", m.start(), end)


def _ips(text: str) -> Iterator[PiiMatch]:
    for m in _IPV4_RE.finditer(text):
        if _VERSION_BEFORE_RE.search(text, max(0, m.start() - 20), m.start()):
            continue
        yield PiiMatch("ip", m.start(), m.end())
    for m in _IPV6_RE.finditer(text):
        candidate = m.group(0)
        groups = [g for g in candidate.split(":") if g]
        if len(groups) < 2 or ("::" not in candidate and candidate.count(":") != 7):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield PiiMatch("ip", m.start(), m.end())


def _api_keys(text: str) -> Iterator[PiiMatch]:
    if not _KEY_HINT_RE.search(text):  # one cheap scan instead of six
        return
    for pattern in _API_KEY_RES:
        for m in pattern.finditer(text):
            token = m.group(0)
            # real keys are random: a run of letters alone is prose ("sk-learning-...")
            if not _HAS_DIGIT_AND_LETTER_RE.match(token.split(None, 1)[-1]):
                continue
            yield PiiMatch("api_key", m.start(), m.end())


_DETECTORS: dict[str, Callable[[str], Iterator[PiiMatch]]] = {
    "email": _emails,
    "phone": _phones,
    "credit_card": _cards,
    "ssn": _ssns,
    "iban": _ibans,
    "ip": _ips,
    "api_key": _api_keys,
}


# What each detector's patterns cannot match without (``digits``: how many 0-9 the text
# holds), checked with str.count before running any regex over the text. Scoring runs on
# the items' core, and most outputs hold a few digits ("30 days") but no PII.
_POSSIBLE: dict[str, Callable[[str, int], bool]] = {
    "email": lambda text, digits: "@" in text,
    "phone": lambda text, digits: digits >= 10 or ("+" in text and digits >= 8),
    "credit_card": lambda text, digits: digits >= 13,
    "ssn": lambda text, digits: digits >= 9,
    "iban": lambda text, digits: digits >= 2,
    "ip": lambda text, digits: (digits >= 4 and text.count(".") >= 3) or text.count(":") >= 2,
    "api_key": lambda text, digits: True,  # has its own one-scan prefilter
}


def _check_kinds(kinds: Iterable[str] | None) -> frozenset[str]:
    if kinds is None:
        return frozenset(PII_KINDS)
    chosen = frozenset(kinds)
    unknown = sorted(chosen - set(PII_KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {', '.join(unknown)}; valid: {', '.join(PII_KINDS)}")
    return chosen


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PiiMatch]:
    """Every PII item in ``text``, non-overlapping, in order of position.

    ``kinds`` limits the result to those kinds (overlaps are still resolved against all
    kinds, so a card number is never reported as the phone number inside it).
    """
    wanted = _check_kinds(kinds)
    if not _MAYBE_PII_RE.search(text):
        return []
    digits = sum(map(text.count, "0123456789"))
    candidates = [
        match
        for kind, detect in _DETECTORS.items()
        if _POSSIBLE[kind](text, digits)
        for match in detect(text)
    ]
    candidates.sort(key=lambda m: (_PRIORITY[m.kind], m.start - m.end, m.start))
    # accepted spans never overlap, so their starts and ends are sorted alike and one
    # bisection finds the only neighbours a candidate could collide with
    starts: list[int] = []
    accepted: list[PiiMatch] = []
    for cand in candidates:
        at = bisect.bisect_right(starts, cand.start)
        if at > 0 and accepted[at - 1].end > cand.start:
            continue
        if at < len(accepted) and accepted[at].start < cand.end:
            continue
        starts.insert(at, cand.start)
        accepted.insert(at, cand)
    return [m for m in accepted if m.kind in wanted]


def pii_kinds(text: str) -> list[str]:
    """The distinct kinds of PII found in ``text``, sorted."""
    return sorted({m.kind for m in find_pii(text)})


def redact(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with each PII item (of ``kinds``, default all) replaced by ``[REDACTED:kind]``."""
    parts: list[str] = []
    last = 0
    for m in find_pii(text, kinds):
        parts.append(text[last : m.start])
        parts.append(f"[REDACTED:{m.kind}]")
        last = m.end
    parts.append(text[last:])
    return "".join(parts)
