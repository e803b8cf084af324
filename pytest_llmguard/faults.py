"""Classify network and protocol faults into the error classes of DESIGN.md.

Every way a call can fail ends here as an ``ErrorRecord`` with one of the classes
``timeout``, ``rate_limit``, ``server_error``, ``client_error``, ``connection`` or
``invalid_response``; nothing escapes a run as an exception.
"""

from __future__ import annotations

import asyncio
import email.utils
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
    """Remove credentials and key-shaped strings from a message and bound its length."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[REDACTED]")
    message = _SECRET_SHAPES.sub("[REDACTED]", message)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


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
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


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
    if isinstance(exc, ValueError):
        return CallFault("invalid_response", f"invalid response: {exc}")
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
    if isinstance(exc, aiohttp.ClientResponseError):
        return CallFault(
            class_for_status(exc.status), f"HTTP {exc.status}: {exc.message}", exc.status
        )
    if isinstance(exc, aiohttp.ClientError):
        return CallFault("connection", f"{type(exc).__name__}: {exc}")
    return None
