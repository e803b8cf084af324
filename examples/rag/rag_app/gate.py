"""The entry point pytest-llmguard calls (``function: rag_app.gate:answer_case``).

It is called with each golden-set case and the target's ``kwargs`` (``llmguard.yaml``),
in threads (one per call in flight), and returns the bot's answer with the model's
token usage, so the run reports tokens and cost; latency is the whole application path
(retrieval, prompt, model, clean-up).
"""

from __future__ import annotations

import threading
from typing import Any

from rag_app.answer import SupportBot
from rag_app.model import ChatModel

_bots: dict[tuple[Any, ...], SupportBot] = {}
_lock = threading.Lock()


def _bot(
    base_url: str, model: str, top_k: int, headers: dict[str, str], stream: bool
) -> SupportBot:
    """One bot per configuration, shared by the calls (the first call builds it)."""
    key = (base_url, model, top_k, tuple(sorted(headers.items())), stream)
    with _lock:
        if key not in _bots:
            chat = ChatModel(base_url, model, headers=headers, stream=stream)
            _bots[key] = SupportBot(chat, top_k=top_k)
        return _bots[key]


def answer_case(
    case: Any,
    *,
    base_url: str,
    model: str,
    top_k: int = 2,
    headers: dict[str, str] | None = None,
    stream: bool = False,
) -> dict[str, Any]:
    answer = _bot(base_url, model, int(top_k), headers or {}, stream).answer(case.prompt)
    return {"output": answer.text, "model": answer.model, "usage": answer.usage}
