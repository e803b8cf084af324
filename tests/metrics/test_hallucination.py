from __future__ import annotations

import pytest

from pytest_llmguard.metrics.hallucination import (
    fact_supported,
    forbidden_found,
    groundedness,
    unsupported_facts,
)

OUTPUT = (
    "You can ask for a refund within 60 days of purchase. Receipts are required. "
    "The call lasts 30 minutes and costs $1,000.00."
)


def test_numbers_must_match_exactly() -> None:
    assert fact_supported(OUTPUT, "60 days")
    assert not fact_supported(OUTPUT, "30 days")  # the 30 belongs to "30 minutes"
    assert not fact_supported(OUTPUT, "90")
    assert fact_supported(OUTPUT, "$1000")
    assert fact_supported(OUTPUT, "1,000")


def test_words_match_fuzzily() -> None:
    assert fact_supported(OUTPUT, "receipt required")
    assert fact_supported(OUTPUT, "REFUND within 60 days")
    assert not fact_supported(OUTPUT, "lifetime warranty")


def test_unsupported_facts_keeps_order() -> None:
    assert unsupported_facts(OUTPUT, ["30 days", "receipt", "free shipping"]) == [
        "30 days",
        "free shipping",
    ]


def test_forbidden_found_is_strict() -> None:
    assert forbidden_found("We offer a lifetime warranty!", ["lifetime warranty"]) == [
        "lifetime warranty"
    ]
    assert forbidden_found("We offer a limited warranty.", ["lifetime warranty"]) == []


def test_groundedness() -> None:
    context = "Refunds: 30 days from purchase, receipt required. Shipping is free over $50."
    grounded = "You can get a refund within 30 days of purchase. Keep your receipt. Thanks!"
    assert groundedness(grounded, context) == 1.0
    invented = "Refunds are possible within 90 days. We also offer a lifetime warranty."
    assert groundedness(invented, context) == 0.0
    half = "Refunds take 30 days from purchase. We also offer a lifetime warranty."
    assert groundedness(half, context) == 0.5
    assert groundedness("Sure!", context) == 1.0


def test_claim_words_must_be_close_together() -> None:
    far = "Our lifetime members get priority support. " + "filler " * 20 + "No warranty applies."
    assert forbidden_found(far, ["lifetime warranty"]) == []
    assert fact_supported("Receipts are required for refunds.", "receipt required")


@pytest.mark.parametrize(
    ("output", "claim", "present"),
    [
        ("We do not offer a lifetime warranty.", "lifetime warranty", False),
        ("Yes, a lifetime warranty is included.", "lifetime warranty", True),
        ("We don't match competitors' prices.", "we match any price", False),
        ("We never share your data.", "we share your data", False),
        ("Refunds are not available after 30 days.", "refunds are not available", True),
        ("No, it is not free; it costs $5.", "it is free", False),
        ("It is free, and not limited to members.", "it is free", True),
    ],
)
def test_negation_close_to_a_claim_means_it_is_not_stated(
    output: str, claim: str, present: bool
) -> None:
    assert fact_supported(output, claim) is present
    assert (forbidden_found(output, [claim]) == [claim]) is present
