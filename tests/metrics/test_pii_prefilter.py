"""The per-kind prefilters of find_pii only skip detectors that could not match."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_llmguard.metrics import pii

# Texts dense in what the detectors look for: digits, separators, "@", "+", ":", ".".
PIECES = st.sampled_from(
    ["0", "1", "2", "4", "5", "9", " ", "-", ".", ":", "@", "+", "(", ")", "/", "a", "Z",
     "DE", "GB82", "sk-", "x.com", "555", "4111", "192.168.0.", "::1", "fe80:", "\n"]
)  # fmt: skip
TEXTS = st.lists(PIECES, max_size=60).map("".join)


@settings(max_examples=3000, deadline=None)
@given(TEXTS)
def test_prefilters_never_change_what_is_found(text: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pii, "_POSSIBLE", {kind: (lambda t, d: True) for kind in pii._POSSIBLE})
        unfiltered = pii.find_pii(text)
    assert pii.find_pii(text) == unfiltered
