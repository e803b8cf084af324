"""The HTML report: one self-contained file, no network needed to open it.

The page is a fixed template, one stylesheet and one script (``html_assets/``, inlined
here) and the report's data as JSON (:mod:`~pytest_llmguard.report.html_data`). Nothing
untrusted is ever part of the markup: the script reads the data and builds the page with
``textContent``. A Content-Security-Policy allows exactly the inline script and style by
their hashes, nothing from the network, and (in browsers that support Trusted Types) no
HTML parsed from strings at all, so an output like ``</script><script>...`` stays text.

The data is two blocks: what the tables and charts need, and the long texts (outputs,
references, prompts), which the page reads after its first render. A large block
(thousands of cases) is embedded gzipped and base64-encoded, and the browser inflates it
with its own ``DecompressionStream``: text compresses about threefold, which keeps 10,000
cases within a few megabytes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from functools import lru_cache
from importlib import resources

from pytest_llmguard.outcome import Outcome
from pytest_llmguard.report.html_data import build_data, script_json

# The script is these files concatenated in this order, inside one function scope.
SCRIPTS = ("format.js", "charts.js", "diff.js", "detail.js", "table.js", "report.js")
_MARKS = ("@CSP@", "@STYLE@", "@DATA_ATTRS@", "@DATA@", "@TEXTS_ATTRS@", "@TEXTS@", "@SCRIPT@")
COMPRESS_ABOVE = 1_000_000  # characters of JSON; below, the data stays readable in the file


def _asset(name: str) -> str:
    return (resources.files("pytest_llmguard.report") / "html_assets" / name).read_text("utf-8")


@lru_cache(maxsize=1)
def page_parts() -> tuple[list[str], str, str]:
    """The template cut at its marks, the stylesheet and the script (read once)."""
    template = _asset("page.html")
    parts: list[str] = []
    for mark in _MARKS:
        head, template = template.split(mark, 1)
        parts.append(head)
    parts.append(template)
    script = "(function () {\n'use strict';\n" + "".join(map(_asset, SCRIPTS)) + "})();\n"
    return parts, _asset("report.css"), script


def csp_hash(text: str) -> str:
    """The CSP source that allows exactly this inline script or style."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(style: str, script: str) -> str:
    return (
        f"default-src 'none'; script-src {csp_hash(script)}; style-src {csp_hash(style)}; "
        "base-uri 'none'; form-action 'none'; "
        "require-trusted-types-for 'script'; trusted-types 'none'"
    )


def embed(data: str, compress_above: int = COMPRESS_ABOVE) -> tuple[str, str]:
    """The data block's attributes and content: JSON as it is, or gzip+base64 when large."""
    if len(data) <= compress_above:
        return 'type="application/json"', data
    packed = gzip.compress(data.encode("utf-8"), compresslevel=5, mtime=0)
    encoded = base64.b64encode(packed).decode("ascii")
    return 'type="application/gzip" data-encoding="gzip+base64"', encoded


def render_html(outcome: Outcome, *, compress_above: int = COMPRESS_ABOVE) -> str:
    """The whole page for an Outcome."""
    parts, style, script = page_parts()
    data = build_data(outcome)
    texts = data.pop("texts")
    filled = (
        content_security_policy(style, script),
        style,
        *embed(script_json(data), compress_above),
        *embed(script_json(texts), compress_above),
        script,
    )
    pieces = [parts[0]]
    for value, part in zip(filled, parts[1:], strict=True):
        pieces += (value, part)
    return "".join(pieces)
