"""The bot's own unit tests, run next to its gate (pytest --llmguard runs both)."""

from __future__ import annotations

from rag_app.answer import DOCS, postprocess
from rag_app.retrieval import Index, load_passages


def test_retrieval_finds_the_document_that_answers() -> None:
    index = Index(load_passages(DOCS))
    (best, _), *_ = index.search("Is water damage covered by the warranty?", 2)
    assert best.source == "warranty.md"


def test_postprocess_cleans_up_and_cites() -> None:
    text = postprocess("Answer:  Within 30\n days", ("returns.md",))
    assert text == "Within 30 days. [returns.md]"
