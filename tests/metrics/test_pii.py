from __future__ import annotations

import pytest

from pytest_llmguard.metrics.pii import (
    PII_KINDS,
    PiiMatch,
    find_pii,
    iban_ok,
    luhn_ok,
    pii_kinds,
    redact,
)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("mail bob.smith+x@corp.example.com today", "email", "bob.smith+x@corp.example.com"),
        ("call +1 (555) 123-4567 now", "phone", "+1 (555) 123-4567"),
        ("London: +44 20 7946 0958.", "phone", "+44 20 7946 0958"),
        ("text 555-123-4567 please", "phone", "555-123-4567"),
        ("Berlin +49 30 901820, ask", "phone", "+49 30 901820"),
        ("card 4111 1111 1111 1111 ok", "credit_card", "4111 1111 1111 1111"),
        ("amex 3782 822463 10005.", "credit_card", "3782 822463 10005"),
        ("ssn 123-45-6789.", "ssn", "123-45-6789"),
        ("iban GB82 WEST 1234 5698 7654 32.", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("from 192.168.1.24.", "ip", "192.168.1.24"),
        ("v6 2001:db8::1 blocked", "ip", "2001:db8::1"),
        ("key sk-proj-abc123DEF456ghi789JKL012", "api_key", "sk-proj-abc123DEF456ghi789JKL012"),
        ("ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 leaked", "api_key",
         "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
        ("id AKIAIOSFODNN7EXAMPLE", "api_key", "AKIAIOSFODNN7EXAMPLE"),
        ("xoxb-123456789012-abcDEF123456", "api_key", "xoxb-123456789012-abcDEF123456"),
        ("Authorization: Bearer abc123def456ghi789jkl012", "api_key",
         "Bearer abc123def456ghi789jkl012"),
    ],
)  # fmt: skip
def test_finds_each_kind_with_exact_span(text: str, kind: str, value: str) -> None:
    start = text.index(value)
    assert find_pii(text) == [PiiMatch(kind, start, start + len(value))]


@pytest.mark.parametrize(
    "text",
    [
        "Order #123456789 shipped.",
        "Meeting on 2024-01-15, invoice 01/15/2024.",
        "Upgrade to version 1.2.3.4 today.",
        "Version 2.0.0.1 and v1.2.3.4 and Python 3.11.4.",
        "Price $1,299.00, was $999.99.",
        "ISBN 978-0-306-40615-7.",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "ts 1705312800",
        "card 4111 1111 1111 1112 fails Luhn",
        "area 000-12-3456, 666-45-6789 and 912-34-5678 are never issued",
        "GB00 TEST 0000 0000 0000 00",
        "MAC 00:1B:44:11:3A:B7 and std::vector and 12:30:45",
        "999.168.1.1 is invalid",
        "the range 10.0.0.0/8",
        "sk-learn is a typo; the ghp_ prefix; AKIA prefix; Bearer tokens expire",
        "@maria_dev in #general",
    ],
)
def test_hard_negatives(text: str) -> None:
    assert find_pii(text) == []


def test_overlap_prefers_specific_kind() -> None:
    # the digits of an IBAN or card could also look like a phone number
    assert pii_kinds("DE89 3704 0044 0532 0130 00") == ["iban"]
    assert pii_kinds("5500-0000-0000-0004") == ["credit_card"]


def test_kinds_filter_and_unknown_kind() -> None:
    text = "mail a.b@example.com or call +44 20 7946 0958"
    assert [m.kind for m in find_pii(text, ["phone"])] == ["phone"]
    with pytest.raises(ValueError, match=r"unknown PII kind.*passport.*valid: email"):
        find_pii(text, ["passport"])


def test_redact_replaces_values_and_keeps_the_rest() -> None:
    text = "Hi, I'm Ann (ann@example.com, +1 (555) 123-4567), card 4111111111111111."
    out = redact(text)
    assert out == ("Hi, I'm Ann ([REDACTED:email], [REDACTED:phone]), card [REDACTED:credit_card].")
    assert redact(text, ["email"]) == (
        "Hi, I'm Ann ([REDACTED:email], +1 (555) 123-4567), card 4111111111111111."
    )
    assert redact("nothing here") == "nothing here"


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB83WEST12345698765432")
    assert iban_ok("GB82WEST1234569876543!") is False


def test_kinds_constant() -> None:
    assert PII_KINDS == ("email", "phone", "credit_card", "ssn", "iban", "ip", "api_key")


def test_many_matches_are_all_redacted() -> None:
    line = "Call +1 (555) 123-4567 or mail a@b.com about order #123456789.\n"
    out = redact(line * 500)
    assert out.count("[REDACTED:phone]") == 500 and out.count("[REDACTED:email]") == 500
    assert "#123456789" in out
