"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint, for blended similarity.

A handful of batched requests per run, after the calls: httpx's plain client is fine
here (the hot path is the chat calls). A failure never fails the run: the caller gets
None, similarity stays fuzzy-only, and the run says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pytest_llmguard.config import TargetConfig
from pytest_llmguard.faults import scrub
from pytest_llmguard.targets.credentials import api_key_of

BATCH = 128


class EmbeddingClient:
    """Embeds texts with ``model`` at ``base_url``; ``problem`` says why it failed, if it did."""

    def __init__(
        self, target: TargetConfig, base_url: str, model: str, timeout_s: float = 30.0
    ) -> None:
        self.url = base_url.rstrip("/") + "/embeddings"
        self.model = model
        self._key = api_key_of(target)
        headers = dict(target.headers)
        if self._key:
            if target.extra.get("auth_header") == "api-key":  # Azure OpenAI
                headers["api-key"] = self._key
            else:
                headers["authorization"] = f"Bearer {self._key}"
        self._headers = headers
        self._timeout = timeout_s
        self.problem: str | None = None

    def __call__(self, texts: Sequence[str]) -> list[list[float]] | None:
        import httpx  # only runs that blend in embeddings pay for importing it

        vectors: list[list[float]] = []
        try:
            with httpx.Client(timeout=self._timeout, headers=self._headers) as client:
                for start in range(0, len(texts), BATCH):
                    batch = list(texts[start : start + BATCH])
                    resp = client.post(self.url, json={"model": self.model, "input": batch})
                    resp.raise_for_status()
                    data = sorted(resp.json()["data"], key=lambda d: d["index"])
                    vectors.extend([list(map(float, d["embedding"])) for d in data])
            self.problem = _unusable(vectors, len(texts))
        except Exception as exc:  # any fault here must not fail the run (see module doc)
            secrets = (self._key,) if self._key else ()
            self.problem = scrub(f"{type(exc).__name__}: {exc}", secrets)
        return None if self.problem else vectors


def _unusable(vectors: Sequence[Sequence[float]], expected: int) -> str | None:
    """Why these vectors cannot be compared (None when they can): a wrong count, unequal
    lengths, or a NaN/infinite value (which would silently score as no similarity)."""
    if len(vectors) != expected:
        return f"the endpoint returned {len(vectors)} embeddings for {expected} texts"
    lengths = {len(v) for v in vectors}
    if len(lengths) > 1 or 0 in lengths:
        shown = ", ".join(str(n) for n in sorted(lengths)[:4])
        return f"the embeddings have unequal or zero lengths ({shown})"
    if not all(math.isfinite(x) for v in vectors for x in v):
        return "the embeddings contain NaN or infinite values"
    return None
