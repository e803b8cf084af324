"""The bot: retrieve, prompt, ask, post-process."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag_app.model import ChatModel
from rag_app.prompt import build_messages
from rag_app.retrieval import Index, load_passages

DOCS = Path(__file__).resolve().parent.parent / "docs"
_LABEL = re.compile(r"^(answer|assistant)\s*:\s*", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Answer:
    text: str
    sources: tuple[str, ...]
    model: str
    usage: dict[str, Any]


def postprocess(reply: str, sources: tuple[str, ...]) -> str:
    """One clean paragraph that cites where it comes from: ``... [returns.md]``."""
    text = _SPACE.sub(" ", _LABEL.sub("", reply.strip()))
    if text and text[-1] not in ".!?":
        text += "."
    cited = "".join(f" [{source}]" for source in sources)
    return text + cited


class SupportBot:
    def __init__(self, model: ChatModel, *, top_k: int = 2, docs: Path = DOCS) -> None:
        self.model = model
        self.top_k = top_k
        self.index = Index(load_passages(docs))

    def answer(self, question: str) -> Answer:
        hits = self.index.search(question, self.top_k)
        reply = self.model.complete(build_messages(question, [p for p, _ in hits]))
        sources = (hits[0][0].source,) if hits else ()  # cite the best match
        return Answer(postprocess(reply.text, sources), sources, reply.model, dict(reply.usage))
