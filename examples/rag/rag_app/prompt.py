"""The prompt: the retrieved passages in the system message, the question as asked."""

from __future__ import annotations

from collections.abc import Sequence

from rag_app.retrieval import Passage

SYSTEM = (
    "You are Acme's support assistant. Answer the customer's question in one or two "
    "sentences, using only the passages below. If they do not answer it, say you don't "
    "know.\n\n{passages}"
)


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """Chat messages for one question."""
    context = "\n\n".join(f"[{p.source}] {p.text}" for p in passages) or "(no passages)"
    return [
        {"role": "system", "content": SYSTEM.format(passages=context)},
        {"role": "user", "content": question},
    ]
