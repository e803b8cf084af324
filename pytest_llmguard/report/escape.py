"""Untrusted text (model output, error bodies, model names) made inert for each medium.

The terminal gets control sequences replaced (no ANSI colours, title changes or cursor
moves, C1 controls included), bidi controls replaced (no text that reads differently
from what it is), and no line of it can start a CI workflow command: GitHub Actions runs
``::error::``, ``::add-mask::`` and ``##[group]`` (Azure: ``##vso[``) at the start of any
log line, after trimming leading spaces, so indenting is not enough. Markdown (the PR
comment) gets HTML escaped, mentions and references defused, and table, code and link
syntax neutralised. All of them bound the length.
"""

from __future__ import annotations

import re

# C0/C1 control characters (ANSI escapes start with ESC) except tab/newline.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional overrides, embeddings, isolates and marks ("Trojan Source"), and the
# Unicode line and paragraph separators some terminals and log viewers break lines at.
INVISIBLE_CHARS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# A line that a CI runner would read as a command: "::" or "##" after optional spaces.
_COMMAND_START = re.compile(r"^([ \t]*)(:)(?=:)|^([ \t]*)(#)(?=#)", re.MULTILINE)
_NEWLINE = re.compile(r"\r\n|\n")


def _defuse_commands(text: str) -> str:
    """The first ``:`` or ``#`` of a would-be workflow command becomes its fullwidth twin."""

    def swap(m: re.Match[str]) -> str:
        if m.group(2):
            return m.group(1) + "\uff1a"
        return m.group(3) + "\uff03"

    return _COMMAND_START.sub(swap, text)


def safe_block(text: str, limit: int = 600) -> str:
    """Text made safe for a terminal, line breaks kept: control and bidi characters
    replaced, no line can start a CI workflow command, length bounded."""
    cleaned = CONTROL_CHARS.sub("\N{REPLACEMENT CHARACTER}", _NEWLINE.sub("\n", text))
    cleaned = _defuse_commands(INVISIBLE_CHARS.sub("\N{REPLACEMENT CHARACTER}", cleaned))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def safe_text(text: str, limit: int = 300) -> str:
    """Text made safe for one terminal line: as :func:`safe_block`, with each line break
    shown as ``⏎`` (a message must not open a new log line of its own)."""
    return safe_block(_NEWLINE.sub(" \u23ce ", text), limit)


def escape_cell(text: str, limit: int = 200) -> str:
    """Untrusted text made inert inside a Markdown table cell.

    HTML is escaped, @mentions and #references cannot ping, pipes and newlines cannot
    break the table, backticks cannot open code spans, and the length is bounded.
    """
    text = INVISIBLE_CHARS.sub("", CONTROL_CHARS.sub("", text))
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
