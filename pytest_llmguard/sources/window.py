"""Time bounds of a log sample (``since``/``until``) and the timestamps logs are written in.

A bound is a duration before "now" (``7d``, ``12h``, ``90m``, ``2w``, ``30s``) or a point
in time (``2025-05-01``, ``2025-05-01T12:00:00Z``; a date or time without a zone is UTC).
"Now" is passed in, never read here, so that every xdist worker of a run draws the same
sample, and a test can pin it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

__all__ = ["check_bound", "iso_utc", "parse_bound", "parse_timestamp"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# Epoch numbers are read by size: seconds until 2286 stay below 1e10, milliseconds below
# 1e13, microseconds below 1e16; beyond is nanoseconds (OTLP's unit).
_EPOCH_SCALES = ((1e11, 1.0), (1e14, 1e-3), (1e17, 1e-6))


def parse_bound(text: str, now: float) -> float:
    """A ``since``/``until`` value as unix seconds, given the run's "now"; ValueError if bad."""
    match = _DURATION.match(text)
    if match:
        return now - float(match.group(1)) * _SECONDS[match.group(2).lower()]
    when = parse_timestamp(text)
    if when is None:
        raise ValueError(
            f"{text!r} is neither a duration (7d, 12h, 30m, 2w) nor a date or time "
            "(2025-05-01, 2025-05-01T12:00:00Z)"
        )
    return when


def check_bound(text: str) -> str | None:
    """Why ``text`` is not a valid bound, or None."""
    try:
        parse_bound(text, 0.0)
    except ValueError as exc:
        return str(exc)
    return None


def parse_timestamp(value: object) -> float | None:
    """Unix seconds from an ISO 8601 string or an epoch number (s, ms, us or ns); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text[0].isdigit() and text.replace(".", "", 1).isdigit():
            number = float(text)  # OTLP writes its nanoseconds as a decimal string
        else:
            return _parse_iso(text)
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    for limit, scale in _EPOCH_SCALES:
        if number < limit:
            return number * scale
    return number * 1e-9


def _parse_iso(text: str) -> float | None:
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # Python before 3.11 reads neither fractions of other than 3 or 6 digits nor
        # a space before the zone; trim the fraction to microseconds and retry.
        fixed = re.sub(r"(\.\d{6})\d+", r"\1", text.replace(" +", "+"))
        try:
            parsed = datetime.fromisoformat(fixed)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def iso_utc(seconds: float | None) -> str | None:
    """Unix seconds as ``2025-05-01T12:00:00.123Z`` (None stays None)."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
