"""Classify network and protocol faults into the error classes of DESIGN.md.

Every way a call can fail ends here as an ``ErrorRecord`` with one of the classes
``timeout``, ``rate_limit``, ``server_error``, ``client_error``, ``connection`` or
``invalid_response``; nothing escapes a run as an exception.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import sys
import time
from typing import Any

from pytest_llmguard.records import ErrorClass, ErrorRecord

MAX_MESSAGE_CHARS = 300

# Key-shaped strings that a server may echo back in an error body.
_SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,}"
    r"|AKIA[0-9A-Z]{16}|xox[abprs]-[A-Za-z0-9\-]{10,}|(?i:bearer)\s+[A-Za-z0-9._\-]{12,})"
)
# The userinfo of a URL (``http://user:password@host``): a credential wherever it appears.
_URL_USERINFO = re.compile(r"(?<=://)[^\s/?#@]+@")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class CallFault(Exception):
    """Raised inside a client to end an attempt with a classified error."""

    def __init__(
        self,
        cls: ErrorClass,
        message: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.record = ErrorRecord(cls, scrub(message), status)
        self.retry_after_s = retry_after_s


def scrub(message: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove credentials and key-shaped strings from a message and bound its length.

    Also makes it writable: a lone surrogate (a server's ``"\\ud800"``) becomes U+FFFD, as
    it could not be encoded as UTF-8 in any report.
    """
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[REDACTED]")
    message = _SECRET_SHAPES.sub("[REDACTED]", message)
    message = redact_url(message)
    message = _LONE_SURROGATE.sub("\ufffd", message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def redact_url(text: str) -> str:
    """``text`` with the userinfo of every URL in it replaced (``http://[REDACTED]@host``)."""
    return _URL_USERINFO.sub("[REDACTED]@", text) if "@" in text else text


def class_for_status(status: int) -> ErrorClass:
    """The error class of a non-2xx HTTP status."""
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    return "client_error"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError):
        # a date no calendar holds (year 99999999999): no usable hint, not a crash
        return None
    return max(0.0, seconds)


def classify_exception(exc: BaseException) -> CallFault:
    """Map a transport exception to a classified fault."""
    if isinstance(exc, CallFault):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return CallFault("timeout", "no complete response within the timeout")
    # aiohttp is imported only once a live call is made (a cached replay never needs it);
    # if it is not loaded, no exception can be one of its own.
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None:
        fault = _classify_aiohttp(exc, aiohttp)
        if fault is not None:
            return fault
    if isinstance(exc, ConnectionError):
        return CallFault("connection", f"connection error: {exc}")
    if isinstance(exc, UnicodeDecodeError):
        return CallFault("invalid_response", f"response is not valid UTF-8: {exc.reason}")
    if isinstance(exc, (ValueError, ArithmeticError, LookupError, TypeError, RecursionError)):
        # A response the client could not make sense of: retrying the same bytes would
        # not help (a connection fault would be retried).
        return CallFault("invalid_response", f"invalid response: {type(exc).__name__}: {exc}")
    return CallFault("connection", f"{type(exc).__name__}: {exc}")


def _classify_aiohttp(exc: BaseException, aiohttp: Any) -> CallFault | None:
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return CallFault("timeout", "no complete response within the timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return CallFault("connection", f"cannot connect: {exc.os_error or exc}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return CallFault("connection", "server closed the connection before the response ended")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return CallFault("connection", f"response body cut short: {exc}")
    if isinstance(exc, aiohttp.ClientOSError):
        return CallFault("connection", f"connection error: {exc}")
    if isinstance(exc, aiohttp.http_exceptions.HttpProcessingError):
        # e.g. LineTooLong: a single SSE line beyond aiohttp's limit is a bad response
        return CallFault("invalid_response", f"unparseable response: {type(exc).__name__}")
    if isinstance(exc, aiohttp.TooManyRedirects):
        return CallFault("client_error", f"redirect loop: {exc.message}", exc.status)
    if isinstance(exc, aiohttp.ClientResponseError) and isinstance(
        exc.__cause__, aiohttp.http_exceptions.HttpProcessingError
    ):
        # aiohttp's parser refused the response (a duplicate Content-Length, a bad chunk
        # size): it reports "400" although the server never sent one.
        what = str(exc.message).strip().splitlines()[0].rstrip(":") if exc.message else "?"
        return CallFault("invalid_response", f"malformed HTTP response: {what}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return CallFault(
            class_for_status(exc.status), f"HTTP {exc.status}: {exc.message}", exc.status
        )
    if isinstance(exc, aiohttp.ClientError):
        return CallFault("connection", f"{type(exc).__name__}: {exc}")
    return None
