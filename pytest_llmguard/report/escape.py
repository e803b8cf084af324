"""Untrusted text (model output, error bodies, model names) made inert for each medium.

The terminal gets control sequences replaced (no ANSI colours, title changes or cursor
moves, C1 controls included); Markdown (the PR comment) gets HTML escaped, mentions and
references defused, and table, code and link syntax neutralised. Both bound the length.
"""

from __future__ import annotations

import re

# C0/C1 control characters (ANSI escapes start with ESC) except tab/newline.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str, limit: int = 300) -> str:
    """Text made safe for a terminal: control sequences removed, length bounded."""
    cleaned = CONTROL_CHARS.sub("\N{REPLACEMENT CHARACTER}", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def escape_cell(text: str, limit: int = 200) -> str:
    """Untrusted text made inert inside a Markdown table cell.

    HTML is escaped, @mentions and #references cannot ping, pipes and newlines cannot
    break the table, backticks cannot open code spans, and the length is bounded.
    """
    text = CONTROL_CHARS.sub("", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # Mentions and #refs first: the entities added below contain '#' followed by digits.
    text = re.sub(r"@(?=\w)", "@\u200b", text)
    text = re.sub(r"(?<!\w)#(?=\d)", "#\u200b", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("|", "&#124;").replace("`", "&#96;").replace("\n", " ")
    return re.sub(r"([\\*_\[\]~])", r"\\\1", text)


# Bidi embeddings, overrides and isolates make text read in another order than it is
# stored ("Trojan Source"); C0/C1 controls are invisible. The plain direction marks
# (U+200E, U+200F, U+061C) stay: right-to-left text uses them and they reorder nothing.
HIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def reveal_controls(text: str) -> str:
    """Control and bidi characters shown as visible ``⟦U+202E⟧`` marks (for the HTML report).

    The browser shows text with ``textContent``, so nothing here could run; but a bidi
    override would make an output read differently from what the model returned.
    """
    return HIDDEN_CHARS.sub(lambda m: f"⟦U+{ord(m.group()):04X}⟧", text)
