"""pytest-llmguard: a pytest plugin and CI regression gate for LLM applications."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
